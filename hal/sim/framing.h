#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace google::protobuf {
class MessageLite;
}

/* Length-prefixed framing of the simulator wires (proto/sim_wire.proto; see
 * docs/architecture.md, Conventions): a 4-byte big-endian length, then that many bytes of
 * one message. Shared by the hal sim clients and the simulator's servers so both ends
 * agree byte for byte. */
namespace stopline::hal::sim {

inline constexpr std::size_t kFrameHeaderBytes = 4;

/* Larger than any honest message (a 1920x1080 BGR frame is 6.2 MB); a peer announcing
 * more is treated as broken rather than trusted with an allocation. */
inline constexpr std::size_t kMaxFrameBytes = 32u << 20;

/* Appends the header and the payload, so a sender can batch several frames in one write. */
void appendFrame(std::string &out, std::string_view payload);

/* Serializes a message straight behind its header (no intermediate copy). Returns false
 * when the message is larger than kMaxFrameBytes; `out` is then unchanged. */
bool appendMessage(std::string &out, const google::protobuf::MessageLite &message);

/* Splits a byte stream into frames wherever the reads happen to end. Bytes can be copied in
 * with feed(), or read straight into the buffer with prepare()/commit(). */
class FrameReader
{
public:
    enum class Status {
        Ready,     /* `payload` holds one complete frame */
        NeedMore,  /* no complete frame buffered yet */
        Oversized, /* the peer announced more than the limit: the stream is unusable */
    };

    explicit FrameReader(std::size_t maxFrameBytes = kMaxFrameBytes);

    void feed(const void *data, std::size_t size);

    /* Room for at least `size` more bytes; pass the count actually filled to commit(). */
    std::uint8_t *prepare(std::size_t size);
    void commit(std::size_t size);

    /* The next complete frame. The view stays valid until the next call to feed(),
     * prepare() or next(). After Oversized every later call returns Oversized. */
    Status next(std::string_view &payload);

    /* Length the peer announced for the frame being assembled (for error messages). */
    std::size_t announcedBytes() const { return announced_; }
    std::size_t maxFrameBytes() const { return maxFrameBytes_; }
    std::size_t bufferedBytes() const { return end_ - begin_; }

private:
    void compact();

    std::vector<std::uint8_t> buffer_;
    std::size_t begin_ = 0; /* first unconsumed byte */
    std::size_t end_ = 0;   /* one past the last valid byte */
    std::size_t announced_ = 0;
    std::size_t maxFrameBytes_;
    bool broken_ = false;
};

/* Blocking helpers for plain file descriptors (handshakes, simulator threads). */

/* Writes one frame completely (looping over short writes, never raising SIGPIPE).
 * Returns false with `error` set when the peer is gone or the payload is too large. */
bool writeFrame(int fd, std::string_view payload, std::string *error = nullptr);

enum class ReadStatus { Ok, Closed, Timeout, Oversized, Error };

/* Reads one frame into `payload`, waiting at most timeoutMs (negative: forever). Closed
 * means the peer hung up cleanly between frames. */
ReadStatus readFrame(int fd, std::string &payload, int timeoutMs,
                     std::size_t maxFrameBytes = kMaxFrameBytes, std::string *error = nullptr);

} /* namespace stopline::hal::sim */
