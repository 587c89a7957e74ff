#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace stopline::backoffice {

struct PacketFile
{
    std::string name; /* path inside the archive */
    std::string bytes;
};

/* A ZIP archive (libarchive) of `files`, in order, dated `mtimeS` (seconds since the
 * epoch) so the same packet exported twice has the same bytes. Throws
 * std::runtime_error with libarchive's message. */
std::string writeZip(const std::vector<PacketFile> &files, int64_t mtimeS);

} /* namespace stopline::backoffice */
