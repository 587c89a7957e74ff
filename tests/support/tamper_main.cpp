/* stopline-tamper: applies one named tamper to a folder written by
 * stopline-sample-chain, in place, and prints the file it affected. Used by the CLI
 * tests to show that stopline-verify names each tamper. */

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "evidence/seal.h"
#include "sample_chain.h"

namespace fs = std::filesystem;
using namespace stopline::evidence;
using namespace stopline::testkit;

namespace {

std::string readFile(const fs::path &p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void writeFile(const fs::path &p, const std::string &data)
{
    std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
}

Record recordOf(const std::string &bytes, SealedRecord *env)
{
    env->ParseFromString(bytes);
    Record r;
    r.ParseFromString(env->record());
    return r;
}

} /* namespace */

int main(int argc, char **argv)
{
    CLI::App app{"Tamper with a sample chain (test fixture)."};
    std::string kind, dir, keyPath;
    unsigned seq = 2;
    app.add_option("kind", kind,
                   "frame | signature | record | wrong-key | missing | swap | fork | truncate | "
                   "checkpoint-beyond")
            ->required();
    app.add_option("dir", dir, "folder of .slr files")->required();
    app.add_option("-s,--seq", seq, "record to tamper with")->default_val(2);
    app.add_option("-k,--key", keyPath, "the chain's private key (for fork)");
    CLI11_PARSE(app, argc, argv);

    fs::path file = fs::path(dir) / recordFileName(seq);
    std::string bytes = readFile(file);
    SealedRecord env;
    Record rec = recordOf(bytes, &env);

    if (kind == "frame") {
        const std::string &data = rec.violation().frames(0).data();
        bytes[bytes.find(data) + data.size() / 2] ^= 0x01;
        writeFile(file, bytes);
    } else if (kind == "signature") {
        bytes[bytes.find(env.signature()) + 5] ^= 0x01;
        writeFile(file, bytes);
    } else if (kind == "record") {
        size_t at = bytes.find(rec.violation().location().code());
        bytes[at] ^= 0x01;
        writeFile(file, bytes);
    } else if (kind == "wrong-key") {
        auto other = SigningKey::generate();
        env.set_signature(other->sign(kRecordDomain, env.record()));
        env.set_key_id(other->keyId());
        writeFile(file, env.SerializeAsString());
    } else if (kind == "missing") {
        fs::remove(file);
        file = fs::path(dir) / recordFileName(seq + 1);
    } else if (kind == "swap") {
        fs::path next = fs::path(dir) / recordFileName(seq + 1);
        std::string other = readFile(next);
        writeFile(next, bytes);
        writeFile(file, other);
        file = next;
    } else if (kind == "fork") {
        auto key = SigningKey::loadFile(keyPath);
        ChainWriter writer(rec.device_id(), key.get(), rec.seq(), rec.prev_hash());
        Record alt = sampleViolation(77, rec.created().utc_ns());
        file = fs::path(dir) / ("fork-" + recordFileName(seq));
        writeFile(file, writer.seal(alt).bytes);
    } else if (kind == "truncate") {
        bytes.resize(bytes.size() * 2 / 3);
        writeFile(file, bytes);
    } else if (kind == "checkpoint-beyond") {
        /* Remove the newest record; the checkpoint still names it. */
        fs::path newest;
        for (const auto &e : fs::directory_iterator(dir))
            if (e.path().extension() == ".slr" && e.path() > newest)
                newest = e.path();
        fs::remove(newest);
        for (const auto &e : fs::directory_iterator(dir))
            if (e.path().extension() == ".slc")
                file = e.path();
    } else {
        std::cerr << "unknown tamper " << kind << "\n";
        return 2;
    }
    std::cout << file.string() << "\n";
    return 0;
}
