#include "backoffice/citations/court_packet.h"

#include <memory>
#include <stdexcept>

#include <archive.h>
#include <archive_entry.h>

namespace stopline::backoffice {

namespace {

la_ssize_t appendBytes(struct archive *, void *closure, const void *buffer, size_t length)
{
    static_cast<std::string *>(closure)->append(static_cast<const char *>(buffer), length);
    return static_cast<la_ssize_t>(length);
}

} /* namespace */

std::string writeZip(const std::vector<PacketFile> &files, int64_t mtimeS)
{
    std::string out;
    std::unique_ptr<struct archive, decltype(&archive_write_free)> a(archive_write_new(),
                                                                     archive_write_free);
    auto check = [&](int rc, const char *what) {
        if (rc < ARCHIVE_OK)
            throw std::runtime_error(std::string("court packet: ") + what + ": " +
                                     (archive_error_string(a.get()) ? archive_error_string(a.get())
                                                                    : "libarchive error"));
    };
    check(archive_write_set_format_zip(a.get()), "zip format");
    check(archive_write_open(a.get(), &out, nullptr, appendBytes, nullptr), "open");
    for (const PacketFile &f : files) {
        std::unique_ptr<struct archive_entry, decltype(&archive_entry_free)> e(archive_entry_new(),
                                                                               archive_entry_free);
        archive_entry_set_pathname(e.get(), f.name.c_str());
        archive_entry_set_size(e.get(), static_cast<la_int64_t>(f.bytes.size()));
        archive_entry_set_filetype(e.get(), AE_IFREG);
        archive_entry_set_perm(e.get(), 0644);
        archive_entry_set_mtime(e.get(), static_cast<time_t>(mtimeS), 0);
        check(archive_write_header(a.get(), e.get()), f.name.c_str());
        if (!f.bytes.empty() && archive_write_data(a.get(), f.bytes.data(), f.bytes.size()) !=
                                        static_cast<la_ssize_t>(f.bytes.size()))
            check(ARCHIVE_FATAL, f.name.c_str());
    }
    check(archive_write_close(a.get()), "close");
    return out;
}

} /* namespace stopline::backoffice */
