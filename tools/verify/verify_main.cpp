/* stopline-verify: checks sealed records and checkpoints against enrolled keys and
 * prints one line per item with every status code, then a summary. Exit status 0
 * only when every record and checkpoint passes. */

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "evidence/verify.h"

namespace fs = std::filesystem;
using namespace stopline::evidence;

namespace {

bool isCheckpointPath(const fs::path &p)
{
    return p.extension() == ".slc";
}

bool isEvidencePath(const fs::path &p)
{
    return p.extension() == ".slr" || p.extension() == ".slc";
}

std::string readFile(const fs::path &p)
{
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/* Folders are walked in name order: spool and export files are named by sequence
 * number, so name order is chain order and a swapped pair shows as chain.order. */
void collect(const fs::path &path, std::vector<BatchInput> *out)
{
    if (fs::is_directory(path)) {
        std::vector<fs::path> entries;
        for (const auto &e : fs::recursive_directory_iterator(path))
            if (e.is_regular_file() && isEvidencePath(e.path()))
                entries.push_back(e.path());
        std::sort(entries.begin(), entries.end());
        for (const fs::path &p : entries)
            out->push_back({p.string(), readFile(p), isCheckpointPath(p)});
        return;
    }
    if (!fs::exists(path))
        throw std::runtime_error("no such file or folder: " + path.string());
    out->push_back({path.string(), readFile(path), isCheckpointPath(path)});
}

std::string recordLabel(const RecordCheck &rc)
{
    if (!rc.parsed)
        return "?";
    return rc.record.device_id() + "#" + std::to_string(rc.record.seq());
}

} /* namespace */

int main(int argc, char **argv)
{
    CLI::App app{"Verify sealed stopline evidence records and checkpoints.\n"
                 "Prints one line per record with its status codes (see "
                 "docs/evidence-integrity.md) and a summary line."};
    std::string keysDir;
    std::vector<std::string> paths;
    BatchOptions options;
    double toleranceS = 2.0;
    app.add_option("-k,--keys", keysDir, "folder of enrolled public keys (*.pub)")->required();
    app.add_flag("--partial", options.partial,
                 "the set starts mid-chain (court packet, spool): no gap before the first record");
    app.add_option("--time-tolerance", toleranceS,
                   "seconds UTC may step back between consecutive records")
            ->default_val(2.0);
    app.add_option("paths", paths, "sealed record (.slr) / checkpoint (.slc) files or folders")
            ->required();
    CLI11_PARSE(app, argc, argv);
    options.timeToleranceNs = static_cast<int64_t>(toleranceS * 1e9);

    KeyRing keys;
    std::vector<BatchInput> inputs;
    try {
        keys.loadDirectory(keysDir);
        for (const std::string &p : paths)
            collect(p, &inputs);
    } catch (const std::exception &e) {
        std::cerr << "stopline-verify: " << e.what() << "\n";
        return 2;
    }
    if (inputs.empty()) {
        std::cerr << "stopline-verify: no .slr or .slc files found\n";
        return 2;
    }

    BatchResult result = verifyBatch(inputs, std::move(keys), options);

    size_t okRecords = 0, warned = 0;
    for (const RecordCheck &rc : result.records) {
        std::cout << rc.source << "  " << recordLabel(rc) << "  " << rc.summary() << "\n";
        okRecords += rc.ok();
        warned += rc.ok() && !rc.findings.empty();
    }
    size_t okCheckpoints = 0;
    for (const CheckpointCheck &cp : result.checkpoints) {
        std::string label = cp.parsed ? cp.checkpoint.device_id() + " checkpoint@" +
                                                std::to_string(cp.checkpoint.seq_high())
                                      : "checkpoint ?";
        std::cout << cp.source << "  " << label << "  " << cp.summary() << "\n";
        okCheckpoints += cp.ok();
    }
    std::cout << "summary: " << result.records.size() << " records, " << okRecords << " ok ("
              << warned << " with warnings), " << result.records.size() - okRecords << " failed; "
              << result.checkpoints.size() << " checkpoints, " << okCheckpoints << " ok; "
              << (result.ok() ? "PASS" : "FAIL") << "\n";
    return result.ok() ? 0 : 1;
}
