#include "hal/sim/framing.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <google/protobuf/message_lite.h>

namespace stopline::hal::sim {

namespace {

void putHeader(std::uint8_t *at, std::uint32_t size)
{
    at[0] = static_cast<std::uint8_t>(size >> 24);
    at[1] = static_cast<std::uint8_t>(size >> 16);
    at[2] = static_cast<std::uint8_t>(size >> 8);
    at[3] = static_cast<std::uint8_t>(size);
}

std::uint32_t getHeader(const std::uint8_t *at)
{
    return (std::uint32_t{at[0]} << 24) | (std::uint32_t{at[1]} << 16) |
           (std::uint32_t{at[2]} << 8) | std::uint32_t{at[3]};
}

void setError(std::string *error, const std::string &text)
{
    if (error)
        *error = text;
}

/* send() with MSG_NOSIGNAL on sockets, write() on anything else (pipes in tests). */
ssize_t writeSome(int fd, const char *data, std::size_t size)
{
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
        n = ::write(fd, data, size);
    return n;
}

} /* namespace */

void appendFrame(std::string &out, std::string_view payload)
{
    std::uint8_t header[kFrameHeaderBytes];
    putHeader(header, static_cast<std::uint32_t>(payload.size()));
    out.append(reinterpret_cast<const char *>(header), sizeof(header));
    out.append(payload);
}

bool appendMessage(std::string &out, const google::protobuf::MessageLite &message)
{
    std::size_t size = message.ByteSizeLong();
    if (size > kMaxFrameBytes)
        return false;
    std::size_t at = out.size();
    out.resize(at + kFrameHeaderBytes + size);
    auto *bytes = reinterpret_cast<std::uint8_t *>(out.data() + at);
    putHeader(bytes, static_cast<std::uint32_t>(size));
    if (!message.SerializeToArray(bytes + kFrameHeaderBytes, static_cast<int>(size))) {
        out.resize(at);
        return false;
    }
    return true;
}

FrameReader::FrameReader(std::size_t maxFrameBytes) : maxFrameBytes_(maxFrameBytes)
{}

void FrameReader::compact()
{
    if (begin_ == 0)
        return;
    std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
}

void FrameReader::feed(const void *data, std::size_t size)
{
    std::memcpy(prepare(size), data, size);
    commit(size);
}

std::uint8_t *FrameReader::prepare(std::size_t size)
{
    if (buffer_.size() - end_ < size) {
        compact();
        if (buffer_.size() - end_ < size)
            buffer_.resize(end_ + size);
    }
    return buffer_.data() + end_;
}

void FrameReader::commit(std::size_t size)
{
    end_ += size;
}

FrameReader::Status FrameReader::next(std::string_view &payload)
{
    if (broken_)
        return Status::Oversized;
    std::size_t available = end_ - begin_;
    if (available < kFrameHeaderBytes) {
        if (available == 0)
            begin_ = end_ = 0;
        return Status::NeedMore;
    }
    announced_ = getHeader(buffer_.data() + begin_);
    if (announced_ > maxFrameBytes_) {
        broken_ = true;
        return Status::Oversized;
    }
    if (available < kFrameHeaderBytes + announced_)
        return Status::NeedMore;
    payload = std::string_view(reinterpret_cast<const char *>(buffer_.data()) + begin_ +
                                       kFrameHeaderBytes,
                               announced_);
    begin_ += kFrameHeaderBytes + announced_;
    return Status::Ready;
}

bool writeFrame(int fd, std::string_view payload, std::string *error)
{
    if (payload.size() > kMaxFrameBytes) {
        setError(error, "frame of " + std::to_string(payload.size()) + " bytes exceeds the " +
                                std::to_string(kMaxFrameBytes) + "-byte limit");
        return false;
    }
    std::uint8_t header[kFrameHeaderBytes];
    putHeader(header, static_cast<std::uint32_t>(payload.size()));
    const std::string_view parts[2] = {
            std::string_view(reinterpret_cast<const char *>(header), sizeof(header)), payload};
    for (std::string_view part : parts) {
        while (!part.empty()) {
            ssize_t n = writeSome(fd, part.data(), part.size());
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    pollfd p{fd, POLLOUT, 0};
                    ::poll(&p, 1, -1);
                    continue;
                }
                setError(error, std::string("write failed: ") + std::strerror(errno));
                return false;
            }
            part.remove_prefix(static_cast<std::size_t>(n));
        }
    }
    return true;
}

ReadStatus readFrame(int fd, std::string &payload, int timeoutMs, std::size_t maxFrameBytes,
                     std::string *error)
{
    using SteadyClock = std::chrono::steady_clock;
    const auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeoutMs);

    /* Reads exactly `size` bytes; `any` tells whether part of the frame has arrived. */
    auto readExactly = [&](char *into, std::size_t size, bool any) -> ReadStatus {
        std::size_t got = 0;
        while (got < size) {
            int wait = -1;
            if (timeoutMs >= 0) {
                auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                        deadline - SteadyClock::now());
                wait = left.count() > 0 ? static_cast<int>(left.count()) : 0;
            }
            pollfd p{fd, POLLIN, 0};
            int ready = ::poll(&p, 1, wait);
            if (ready < 0) {
                if (errno == EINTR)
                    continue;
                setError(error, std::string("poll failed: ") + std::strerror(errno));
                return ReadStatus::Error;
            }
            if (ready == 0) {
                setError(error, "timed out after " + std::to_string(timeoutMs) + " ms");
                return ReadStatus::Timeout;
            }
            ssize_t n = ::read(fd, into + got, size - got);
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                    continue;
                setError(error, std::string("read failed: ") + std::strerror(errno));
                return ReadStatus::Error;
            }
            if (n == 0) {
                if (!any && got == 0)
                    return ReadStatus::Closed;
                setError(error, "peer closed the connection in the middle of a frame");
                return ReadStatus::Error;
            }
            got += static_cast<std::size_t>(n);
        }
        return ReadStatus::Ok;
    };

    std::uint8_t header[kFrameHeaderBytes];
    ReadStatus status = readExactly(reinterpret_cast<char *>(header), sizeof(header), false);
    if (status != ReadStatus::Ok)
        return status;
    std::uint32_t size = getHeader(header);
    if (size > maxFrameBytes) {
        setError(error, "peer announced a frame of " + std::to_string(size) + " bytes, over the " +
                                std::to_string(maxFrameBytes) + "-byte limit");
        return ReadStatus::Oversized;
    }
    payload.resize(size);
    return readExactly(payload.data(), size, true);
}

} /* namespace stopline::hal::sim */
