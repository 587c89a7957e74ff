#include "pipeline/spool/spool.h"

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "evidence.pb.h"
#include "evidence/crypto.h"

namespace fs = std::filesystem;

namespace stopline::pipeline {

namespace {

std::string errnoText(const char *what, const std::string &path)
{
    return std::string(what) + " " + path + ": " + std::strerror(errno);
}

bool fsyncDir(const std::string &dir)
{
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return false;
    bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

std::optional<std::uint64_t> seqFromName(const std::string &name)
{
    /* NNNNNNNNNNNN.slr: exactly 12 digits */
    if (name.size() != 16 || name.substr(12) != ".slr")
        return std::nullopt;
    std::uint64_t seq = 0;
    for (int i = 0; i < 12; ++i) {
        if (name[i] < '0' || name[i] > '9')
            return std::nullopt;
        seq = seq * 10 + static_cast<std::uint64_t>(name[i] - '0');
    }
    return seq;
}

std::optional<std::string> readAll(const std::string &path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return std::nullopt;
    std::string out;
    char buf[1 << 16];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof(buf));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return out;
}

} /* namespace */

std::optional<std::string> writeFileDurably(const std::string &tmpDir, const std::string &path,
                                            std::string_view data)
{
    std::string tmpl = tmpDir + "/" + fs::path(path).filename().string() + ".XXXXXX";
    int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
    if (fd < 0)
        return errnoText("cannot create temporary file in", tmpDir);
    auto fail = [&](const char *what) {
        std::string msg = errnoText(what, tmpl);
        ::close(fd);
        ::unlink(tmpl.c_str());
        return msg;
    };
    std::size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return fail("cannot write");
        }
        off += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0)
        return fail("cannot fsync");
    if (::close(fd) != 0) {
        std::string msg = errnoText("cannot close", tmpl);
        ::unlink(tmpl.c_str());
        return msg;
    }
    if (::rename(tmpl.c_str(), path.c_str()) != 0) {
        std::string msg = errnoText("cannot rename into", path);
        ::unlink(tmpl.c_str());
        return msg;
    }
    /* The rename is durable only once the folder holding the new name is on disk. */
    std::string parent = fs::path(path).parent_path().string();
    if (!fsyncDir(parent))
        return errnoText("cannot fsync folder", parent);
    return std::nullopt;
}

Spool::Spool(Options options) : options_(std::move(options))
{
    for (const char *sub : {"records", "tmp", "quarantine"}) {
        std::error_code ec;
        fs::create_directories(fs::path(options_.dir) / sub, ec);
        if (ec)
            throw std::runtime_error("cannot create spool folder " +
                                     (fs::path(options_.dir) / sub).string() + ": " + ec.message());
    }
}

std::string Spool::recordPath(std::uint64_t seq) const
{
    char name[24];
    std::snprintf(name, sizeof(name), "%012" PRIu64 ".slr", seq);
    return (fs::path(options_.dir) / "records" / name).string();
}

Spool::Recovery Spool::recover()
{
    Recovery rec;
    std::lock_guard<std::mutex> guard(lock_);
    index_.clear();
    used_ = 0;

    /* Anything in tmp/ never reached its rename: by construction it is incomplete. */
    for (const auto &e : fs::directory_iterator(fs::path(options_.dir) / "tmp")) {
        rec.messages.push_back("discarded partial record " + e.path().string() + " (" +
                               std::to_string(e.is_regular_file() ? e.file_size() : 0) +
                               " bytes, never completed)");
        fs::remove(e.path());
        ++rec.discardedPartial;
    }
    if (rec.discardedPartial)
        fsyncDir((fs::path(options_.dir) / "tmp").string());

    for (const auto &e : fs::directory_iterator(fs::path(options_.dir) / "records")) {
        std::string name = e.path().filename().string();
        std::optional<std::uint64_t> seq = seqFromName(name);
        std::optional<std::string> bytes = seq ? readAll(e.path().string()) : std::nullopt;
        evidence::SealedRecord sealed;
        evidence::Record record;
        bool good = bytes && sealed.ParseFromString(*bytes) &&
                    record.ParseFromString(sealed.record()) && record.seq() == *seq;
        if (!good) {
            /* Never delete what might be evidence: move it aside for a human. */
            fs::path dest = fs::path(options_.dir) / "quarantine" / name;
            std::error_code ec;
            fs::rename(e.path(), dest, ec);
            rec.messages.push_back("quarantined unreadable record file " + e.path().string() +
                                   (ec ? " (could not move: " + ec.message() + ")" : ""));
            ++rec.quarantined;
            continue;
        }
        index_[*seq] = bytes->size();
        used_ += bytes->size();
        ++rec.kept;
    }
    if (rec.kept)
        rec.messages.push_back("spool holds " + std::to_string(rec.kept) +
                               " records awaiting upload (" + std::to_string(used_) + " bytes)");
    return rec;
}

bool Spool::wouldRefuse(std::uint64_t bytes, Priority priority) const
{
    std::lock_guard<std::mutex> guard(lock_);
    std::uint64_t limit = options_.capacityBytes;
    if (priority == Priority::Violation)
        limit = limit > options_.reserveBytes ? limit - options_.reserveBytes : 0;
    return used_ + bytes > limit;
}

bool Spool::full() const
{
    /* A violation record is rarely under 64 KiB (two JPEGs and a clip). */
    return wouldRefuse(64 * 1024, Priority::Violation);
}

std::optional<std::string> Spool::store(std::uint64_t seq, std::string_view sealedBytes,
                                        Priority priority, const ChainHead *head)
{
    if (wouldRefuse(sealedBytes.size(), priority))
        return "spool full: " + std::to_string(usedBytes()) + " of " +
               std::to_string(options_.capacityBytes) + " bytes used";
    std::string path = recordPath(seq);
    {
        std::lock_guard<std::mutex> guard(lock_);
        if (index_.count(seq))
            return "record " + std::to_string(seq) + " is already spooled";
    }
    if (auto err = writeFileDurably((fs::path(options_.dir) / "tmp").string(), path, sealedBytes))
        return err;
    if (head) {
        if (auto err = saveHead(*head)) {
            ::unlink(path.c_str());
            fsyncDir(fs::path(path).parent_path().string());
            return err;
        }
    }
    std::lock_guard<std::mutex> guard(lock_);
    index_[seq] = sealedBytes.size();
    used_ += sealedBytes.size();
    return std::nullopt;
}

std::optional<Spool::Entry> Spool::oldest() const
{
    std::lock_guard<std::mutex> guard(lock_);
    if (index_.empty())
        return std::nullopt;
    return Entry{index_.begin()->first, index_.begin()->second};
}

std::vector<Spool::Entry> Spool::entries() const
{
    std::lock_guard<std::mutex> guard(lock_);
    std::vector<Entry> out;
    for (const auto &[seq, bytes] : index_)
        out.push_back({seq, bytes});
    return out;
}

std::optional<std::string> Spool::read(std::uint64_t seq) const
{
    return readAll(recordPath(seq));
}

bool Spool::remove(std::uint64_t seq)
{
    std::string path = recordPath(seq);
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
        return false;
    fsyncDir(fs::path(path).parent_path().string());
    std::lock_guard<std::mutex> guard(lock_);
    auto it = index_.find(seq);
    if (it != index_.end()) {
        used_ -= it->second;
        index_.erase(it);
    }
    return true;
}

std::size_t Spool::depth() const
{
    std::lock_guard<std::mutex> guard(lock_);
    return index_.size();
}

std::uint64_t Spool::usedBytes() const
{
    std::lock_guard<std::mutex> guard(lock_);
    return used_;
}

std::uint64_t Spool::freeDiskBytes() const
{
    struct statvfs st;
    if (::statvfs(options_.dir.c_str(), &st) != 0)
        return 0;
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

std::optional<std::string> Spool::saveHead(const ChainHead &head)
{
    std::string text = std::to_string(head.seq) + " " + evidence::toHex(head.hash) + "\n";
    return writeFileDurably((fs::path(options_.dir) / "tmp").string(),
                            (fs::path(options_.dir) / "chain.head").string(), text);
}

std::optional<Spool::ChainHead> Spool::loadHead() const
{
    std::optional<std::string> text = readAll((fs::path(options_.dir) / "chain.head").string());
    if (!text)
        return std::nullopt;
    char hex[65] = {};
    unsigned long long seq = 0;
    if (std::sscanf(text->c_str(), "%llu %64s", &seq, hex) != 2)
        return std::nullopt;
    ChainHead head;
    head.seq = seq;
    if (!evidence::fromHex(hex, &head.hash) || head.hash.size() != 32)
        return std::nullopt;
    return head;
}

std::optional<Spool::ChainHead> Spool::resumeHead() const
{
    std::optional<ChainHead> head = loadHead();
    std::optional<std::uint64_t> newest;
    {
        std::lock_guard<std::mutex> guard(lock_);
        if (!index_.empty())
            newest = index_.rbegin()->first;
    }
    if (!newest || (head && head->seq >= *newest))
        return head;
    std::optional<std::string> bytes = read(*newest);
    evidence::SealedRecord sealed;
    if (!bytes || !sealed.ParseFromString(*bytes))
        return head;
    return ChainHead{*newest, evidence::sha256(sealed.record())};
}

} /* namespace stopline::pipeline */
