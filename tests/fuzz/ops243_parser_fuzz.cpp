/* libFuzzer target for the OPS243 parser: the input is a byte stream split into lines as
 * the serial port would, fed to one parser (so unit switches carry over between lines).
 * Beyond "no crash, no sanitizer report", it checks the parser's promises and traps if
 * one is broken. */
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "drivers/radar/ops243_parser.h"

using namespace stopline;
using namespace stopline::drivers::radar;

namespace {

void check(bool condition)
{
    if (!condition)
        __builtin_trap();
}

void checkResult(const Ops243Parser &parser, LineKind kind)
{
    if (kind == LineKind::Report) {
        const auto &report = parser.report();
        check(!report.targets.empty() && report.targets.size() <= 9);
        for (const auto &target : report.targets) {
            check(std::isfinite(target.speed) && std::isfinite(target.magnitude));
            check(target.magnitude >= 0);
            check(std::fabs(target.speed) * Ops243Parser::metresPerSecond(report.unit) <= 100.0);
        }
        if (report.sensorTimeS)
            check(std::isfinite(*report.sensorTimeS) && *report.sensorTimeS >= 0);
    } else if (kind == LineKind::Rejected) {
        check(!parser.lastError().empty());
        check(parser.lastReject() != RejectReason::Count);
    }
}

} /* namespace */

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size)
{
    Ops243Parser parser;
    parser.setLogger(nullptr);
    std::string_view input(reinterpret_cast<const char *>(data), size);
    std::uint64_t lines = 0;
    while (!input.empty()) {
        std::size_t end = input.find_first_of("\r\n");
        std::string_view line = input.substr(0, end);
        /* Lines over the serial port's limit arrive cut and flagged. */
        bool truncated = line.size() > 512;
        if (truncated)
            line = line.substr(0, 512);
        checkResult(parser, parser.parseLine(line, Stamp{static_cast<Nanos>(lines), 0}, truncated));
        ++lines;
        if (end == std::string_view::npos)
            break;
        input.remove_prefix(end + 1);
    }
    const RadarCounters &c = parser.counters();
    check(c.reports + c.replies + c.ranges + c.blanks + c.rejectedTotal() == lines);
    return 0;
}
