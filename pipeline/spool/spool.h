#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stopline::pipeline {

/* Crash-safe store of sealed records waiting for the back-office's receipt
 * (docs/evidence-integrity.md, "Store-and-forward"). A record counts as captured
 * only once store() returns: written to a temporary file, fsynced, renamed into place,
 * and the folder fsynced. It is deleted only by remove(), which the uploader calls after
 * checking the server's receipt. When full, store() refuses; nothing is ever dropped.
 *
 * Layout under the spool folder:
 *   records/NNNNNNNNNNNN.slr  complete sealed records, named by sequence number
 *   tmp/                      records being written; anything here at start is partial
 *   quarantine/               complete-looking files that could not be read back
 *   chain.head                sequence number and hash of the newest sealed record
 *
 * Thread-safe: records are stored from the sealing worker and removed by the uploader. */
class Spool
{
public:
    /* Records of kind Essential (self-checks, calibration changes) may use the reserve
     * that violations may not, so a full spool still records why it is full. */
    enum class Priority { Violation, Essential };

    struct Options
    {
        std::string dir;
        std::uint64_t capacityBytes = 512ull << 20;
        std::uint64_t reserveBytes = 4ull << 20;
    };

    struct Entry
    {
        std::uint64_t seq = 0;
        std::uint64_t bytes = 0;
    };

    /* What start-up found; `messages` are log lines naming each file handled. */
    struct Recovery
    {
        std::size_t kept = 0;
        std::size_t discardedPartial = 0;
        std::size_t quarantined = 0;
        std::vector<std::string> messages;
    };

    struct ChainHead
    {
        std::uint64_t seq = 0;
        std::string hash; /* 32 raw bytes */
    };

    /* Creates the folders if needed; throws std::runtime_error naming a folder that
     * cannot be created. Call recover() before anything else. */
    explicit Spool(Options options);

    /* Scans the folder: partial files are discarded (and logged), complete ones kept. */
    Recovery recover();

    /* Durably stores one sealed record. Returns an error message (disk full, I/O error,
     * spool full) and leaves nothing behind when it fails. With `head`, the chain head is
     * saved too, after the record and before the record becomes visible to oldest() and
     * entries(): the uploader can then never upload and delete a record the saved head
     * does not cover yet (a crash in between would restart the chain behind the
     * back-office's copy and fork it). */
    std::optional<std::string> store(std::uint64_t seq, std::string_view sealedBytes,
                                     Priority priority, const ChainHead *head = nullptr);

    /* True when a record of `bytes` at `priority` would be refused for lack of room. */
    bool wouldRefuse(std::uint64_t bytes, Priority priority) const;

    /* True when violations can no longer be stored (the daemon suspends enforcement). */
    bool full() const;

    std::optional<Entry> oldest() const;
    std::vector<Entry> entries() const;

    /* Reads a stored record; returns nullopt if it vanished or cannot be read. */
    std::optional<std::string> read(std::uint64_t seq) const;

    /* Deletes a record after its receipt was checked; the deletion is made durable. */
    bool remove(std::uint64_t seq);

    std::size_t depth() const;
    std::uint64_t usedBytes() const;
    std::uint64_t capacityBytes() const { return options_.capacityBytes; }
    std::uint64_t freeDiskBytes() const;

    /* The newest sealed record of the chain, persisted atomically, so the chain
     * continues after a restart even when every record has been uploaded. */
    std::optional<std::string> saveHead(const ChainHead &head);
    std::optional<ChainHead> loadHead() const;

    /* Where the chain continues after a restart: the newer of chain.head and the newest
     * spooled record (a crash may fall between storing a record and saving the head). */
    std::optional<ChainHead> resumeHead() const;

    std::string recordPath(std::uint64_t seq) const;
    const std::string &dir() const { return options_.dir; }

private:
    Options options_;
    mutable std::mutex lock_;
    std::map<std::uint64_t, std::uint64_t> index_; /* seq -> bytes */
    std::uint64_t used_ = 0;
};

/* Writes `data` to `path` crash-safely: temporary file in `tmpDir`, fsync, rename,
 * fsync of the destination folder. Returns an error message on failure, after removing
 * the temporary file. */
std::optional<std::string> writeFileDurably(const std::string &tmpDir, const std::string &path,
                                            std::string_view data);

} /* namespace stopline::pipeline */
