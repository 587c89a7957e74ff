#include "hal/frame.h"

namespace stopline::hal {

std::size_t frameBytes(PixelFormat format, int width, int height)
{
    std::size_t pixels = static_cast<std::size_t>(width) * static_cast<std::size_t>(height);
    switch (format) {
    case PixelFormat::BGR888:
        return pixels * 3;
    case PixelFormat::YUV420:
        return pixels * 3 / 2;
    case PixelFormat::GRAY8:
        return pixels;
    }
    return 0;
}

FramePool::FramePool(std::size_t bufferBytes, std::size_t count) : slots_(std::make_shared<Slots>())
{
    slots_->bufferBytes = bufferBytes;
    slots_->capacity = count;
    slots_->free.reserve(count);
    for (std::size_t i = 0; i < count; ++i)
        slots_->free.emplace_back(new std::uint8_t[bufferBytes]);
}

std::shared_ptr<Frame> FramePool::acquire()
{
    std::unique_ptr<std::uint8_t[]> buffer;
    {
        std::lock_guard<std::mutex> guard(slots_->lock);
        if (slots_->free.empty())
            return nullptr;
        buffer = std::move(slots_->free.back());
        slots_->free.pop_back();
    }
    auto *frame = new Frame;
    frame->data = buffer.release();
    frame->size = slots_->bufferBytes;
    /* The deleter keeps the slots alive, so a frame may outlive its pool. */
    std::shared_ptr<Slots> slots = slots_;
    return std::shared_ptr<Frame>(frame, [slots](Frame *f) {
        std::unique_ptr<std::uint8_t[]> back(f->data);
        delete f;
        std::lock_guard<std::mutex> guard(slots->lock);
        slots->free.push_back(std::move(back));
    });
}

std::size_t FramePool::capacity() const
{
    return slots_->capacity;
}

std::size_t FramePool::available() const
{
    std::lock_guard<std::mutex> guard(slots_->lock);
    return slots_->free.size();
}

std::size_t FramePool::bufferBytes() const
{
    return slots_->bufferBytes;
}

} /* namespace stopline::hal */
