/* stopline-sample-chain: writes a genesis record and sample violations, sealed with a
 * given key, as spool-style files. For tests and for trying stopline-verify by hand. */

#include <filesystem>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "sample_chain.h"

int main(int argc, char **argv)
{
    CLI::App app{"Write a sample sealed chain (test fixture)."};
    std::string keyPath, device, out;
    unsigned count = 5;
    bool checkpoint = false;
    long long start = 1'795'000'000; /* seconds since the epoch, 2026-11-18 */
    app.add_option("-k,--key", keyPath, "private key file")->required();
    app.add_option("-d,--device", device, "device id")->required();
    app.add_option("-o,--out", out, "output folder")->required();
    app.add_option("-n,--count", count, "records including genesis")->default_val(5);
    app.add_option("--start", start, "UTC seconds of the first record");
    app.add_flag("--checkpoint", checkpoint, "also write a checkpoint at the last record");
    CLI11_PARSE(app, argc, argv);

    try {
        auto key = stopline::evidence::SigningKey::loadFile(keyPath);
        auto chain = stopline::testkit::makeSampleChain(*key, device, count, start * 1'000'000'000);
        std::filesystem::create_directories(out);
        for (const auto &s : chain.records)
            std::ofstream(std::filesystem::path(out) / stopline::testkit::recordFileName(s.seq),
                          std::ios::binary)
                    << s.bytes;
        if (checkpoint)
            std::ofstream(std::filesystem::path(out) /
                                  stopline::testkit::checkpointFileName(count - 1),
                          std::ios::binary)
                    << chain.checkpoint;
        std::cout << "wrote " << chain.records.size() << " records to " << out << "\n";
    } catch (const std::exception &e) {
        std::cerr << "stopline-sample-chain: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
