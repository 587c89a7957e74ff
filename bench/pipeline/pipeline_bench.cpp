/* Capture-pipeline benchmark (issue 4 item 5). Prints human-readable lines, then one
 * final JSON line of named metrics. Figures are medians (latencies: p50/p99) and each
 * comes with a ratio to a baseline measured in this same process, because the machine
 * is shared and noisy:
 *   - evidence assembly per violation at 1280x720 and 1920x1080 on one core (OpenCV
 *     limited to one thread), against one 1080p JPEG encode;
 *   - the plate locator's share of an assembly;
 *   - trigger-decision latency (event timestamp -> capture decision, i.e. the rule has
 *     decided and the ring has the snapshot request) on the event thread, while a worker
 *     assembles 1080p violations back to back, against the same with the worker idle;
 *   - ring memory at 1080p30 with 2 s pre-trigger. */
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "pipeline/evidence/capture.h"
#include "pipeline/evidence/evidence_builder.h"
#include "pipeline/evidence/sealer.h"
#include "pipeline/frame_ring/frame_ring.h"
#include "pipeline/trigger/red_light.h"

using namespace stopline;
using namespace stopline::pipeline;
namespace ev = stopline::evidence;

namespace {

constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kS = kNanosPerSecond;

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double percentile(std::vector<double> v, double p)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = static_cast<std::size_t>(std::ceil(p / 100.0 * v.size())) - 1;
    return v[std::min(i, v.size() - 1)];
}

double msSince(std::chrono::steady_clock::time_point t)
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

/* A road scene with a car and a US-proportioned plate, scaled to the frame. */
void render(cv::Mat &img, int i)
{
    const double s = img.cols / 1280.0;
    img.setTo(cv::Scalar(90, 92, 95));
    /* Asphalt: fine texture, which JPEG pays for (blurred noise, not white noise,
     * which no lens delivers). */
    cv::Mat road = img(cv::Rect(0, img.rows / 2, img.cols, img.rows / 2));
    cv::randu(road, cv::Scalar(70, 70, 70), cv::Scalar(110, 110, 110));
    cv::GaussianBlur(road, road, cv::Size(5, 5), 0);
    cv::line(img, {0, int(600 * s)}, {img.cols, int(600 * s)}, cv::Scalar(250, 250, 250),
             int(8 * s));
    cv::Rect plate(int((700 - 6 * (i % 60)) * s), int(420 * s), int(150 * s), int(75 * s));
    cv::rectangle(
            img,
            cv::Rect(plate.x - int(90 * s), plate.y - int(170 * s), int(330 * s), int(270 * s)),
            cv::Scalar(40, 40, 150), cv::FILLED);
    cv::rectangle(img, plate, cv::Scalar(235, 235, 235), cv::FILLED);
    cv::rectangle(img, plate, cv::Scalar(30, 30, 30), 2);
    cv::Mat text(40, 200, CV_8UC3, cv::Scalar(235, 235, 235));
    cv::putText(text, "7ABC123", {4, 36}, cv::FONT_HERSHEY_SIMPLEX, 1.3, cv::Scalar(20, 20, 20), 3,
                cv::LINE_AA);
    cv::Rect row(plate.x + plate.width / 10, plate.y + plate.height * 27 / 100,
                 plate.width * 8 / 10, plate.height * 45 / 100);
    cv::resize(text, img(row), row.size(), 0, 0, cv::INTER_AREA);
}

hal::FramePtr bgrFrame(hal::FramePool &pool, int w, int h, int i, Nanos t)
{
    std::shared_ptr<hal::Frame> f = pool.acquire();
    f->sequence = static_cast<std::uint64_t>(i);
    f->stamp.sampleNs = t;
    f->width = w;
    f->height = h;
    f->stride = w * 3;
    f->format = hal::PixelFormat::BGR888;
    cv::Mat img(h, w, CV_8UC3, f->data, f->stride);
    render(img, i);
    return f;
}

RedLightConfig lights()
{
    RedLightConfig c;
    LaneConfig lane;
    lane.approach = "NB";
    lane.lane = 1;
    lane.head = "NB";
    lane.exitLoop = "NB1-exit";
    lane.stopLineFromEntryM = 4.0;
    c.lanes.push_back(lane);
    return c;
}

void redSince(RedLightRule &rule, Nanos redOnset)
{
    drivers::PhaseChange c;
    c.head = "NB";
    c.phase = drivers::Phase::Yellow;
    c.previous = drivers::Phase::Green;
    c.at.sampleNs = redOnset - 4 * kS;
    rule.onPhaseChange(c);
    c.phase = drivers::Phase::Red;
    c.previous = drivers::Phase::Yellow;
    c.at.sampleNs = redOnset;
    c.previousDurationNs = 4 * kS;
    rule.onPhaseChange(c);
}

drivers::LoopCrossing crossingEndingAt(Nanos exitOn)
{
    drivers::LoopCrossing c;
    c.approach = "NB";
    c.lane = 1;
    c.exitOnNs = exitOn;
    c.entryOnNs = exitOn - 500 * kMs;
    c.spacingM = 6;
    c.speedMps = 12;
    return c;
}

/* A cited red-light decision around `cross` and a snapshot of w×h frames like the ring
 * would give: A, B, and a 6 s clip at 5 fps. */
struct Violation
{
    Decision decision;
    Snapshot snapshot;
};

Violation makeViolation(hal::FramePool &pool, int w, int h, const EvidenceOptions &options)
{
    RedLightRule rule(lights());
    const Nanos cross = 100 * kS;
    redSince(rule, cross - 2 * kS);
    drivers::LoopCrossing c = crossingEndingAt(cross + 167 * kMs);
    c.entryOnNs = cross - 333 * kMs;
    auto ds = rule.onLoopCrossing(c);
    drivers::LoopPresence off;
    off.loop = "NB1-exit";
    off.at.sampleNs = c.exitOnNs + 300 * kMs;
    auto fin = rule.onLoopPresence(off);
    Violation v;
    v.decision = fin.at(0);
    SnapshotRequest req = snapshotRequestFor(v.decision, options);
    int i = 0;
    v.snapshot.keyFrames.push_back(bgrFrame(pool, w, h, i++, req.keyTimes[0]));
    v.snapshot.keyFrames.push_back(bgrFrame(pool, w, h, i++, req.keyTimes[1]));
    for (Nanos t = req.rangeFrom; t <= req.rangeTo; t += req.rangeSpacingNs)
        v.snapshot.range.push_back(bgrFrame(pool, w, h, i++, t));
    return v;
}

SiteIdentity site()
{
    SiteIdentity s;
    s.deviceSerial = "SN-BENCH";
    s.location.set_code("BENCH-1");
    s.redLightStatute = "RCW 46.63.170";
    s.configHash = std::string(64, '0');
    s.calibrationId = "cal-bench";
    return s;
}

CaptureContext context()
{
    CaptureContext c;
    c.clock.set_synchronized(true);
    c.clock.set_boot_id("bench");
    c.utcMinusMonotonicNs = 1'790'000'000LL * kS;
    return c;
}

struct AssemblyFigures
{
    double totalMs = 0; /* wall, build + seal */
    double cpuMs = 0;   /* thread CPU, build + seal */
    double plateMs = 0;
    double shotsMs = 0;
    double clipMs = 0;
    double kb = 0;
    int candidates = 0;
};

double threadCpuMs()
{
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Builds and seals one violation `runs` times, interleaved with the JPEG baseline so
 * both see the same machine; wall time and this thread's CPU time (which other
 * processes on the shared machine do not inflate). */
AssemblyFigures measureAssembly(int w, int h, int runs, const cv::Mat &baselineFrame,
                                std::vector<double> *jpegMs)
{
    EvidenceOptions options;
    hal::FramePool pool(hal::frameBytes(hal::PixelFormat::BGR888, w, h), 40);
    Violation v = makeViolation(pool, w, h, options);
    PlateLocator locator;
    auto key = ev::SigningKey::generate();
    ev::ChainWriter writer("bench", key.get(), 1, std::string(32, '\0'));
    std::vector<double> total, cpu, plate, shots, clip;
    AssemblyFigures out;
    for (int r = 0; r < runs; ++r) {
        auto t = std::chrono::steady_clock::now();
        encodeJpeg(baselineFrame, options.shotJpegQuality);
        jpegMs->push_back(msSince(t));

        BuildStats st;
        t = std::chrono::steady_clock::now();
        double c0 = threadCpuMs();
        ev::Record rec = buildViolationRecord(v.decision, v.snapshot, site(), context(), options,
                                              locator, &st);
        ev::Sealed sealed = writer.seal(rec);
        cpu.push_back(threadCpuMs() - c0);
        total.push_back(msSince(t));
        plate.push_back(st.plateMs);
        shots.push_back(st.shotsMs);
        clip.push_back(st.clipMs);
        out.kb = sealed.bytes.size() / 1024.0;
        out.candidates = rec.violation().plate().candidates_size();
    }
    out.totalMs = median(total);
    out.cpuMs = median(cpu);
    out.plateMs = median(plate);
    out.shotsMs = median(shots);
    out.clipMs = median(clip);
    return out;
}

struct Latency
{
    std::vector<double> us;     /* event timestamp -> capture decision */
    std::vector<double> ruleUs; /* the rule's own compute */
    int assembled = 0;
    double assemblyMsInPool = 0;
};

/* Runs the event thread with a camera pushing 1080p YUV frames at 30 fps and a feeder
 * posting loop crossings; when `busy`, the worker pool assembles 1080p violations back
 * to back meanwhile. */
Latency measureLatency(bool busy, int events, const Violation &work, const ev::SigningKey &key)
{
    boost::asio::io_context io;
    auto guard = boost::asio::make_work_guard(io);
    boost::asio::thread_pool workers(1);
    auto writer = std::make_unique<ev::ChainWriter>("bench", &key, 0, std::string());
    ev::Record genesis = ev::makeGenesis(key, "SN-BENCH");
    *genesis.mutable_created() = Sealer::systemNow();
    writer->seal(genesis);
    Sealer sealer(std::move(writer), workers.get_executor());
    EvidenceAssembler assembler(io.get_executor(), workers.get_executor(), &sealer, site(),
                                EvidenceOptions{}, PlateLocator::Options{});
    FrameRing::Options ro; /* 2 s at 30 fps */
    FrameRing ring(ro, io.get_executor());
    RedLightRule rule(lights());
    redSince(rule, monotonicNow() - 1 * kS);

    Latency out;
    std::atomic<bool> running{true};
    std::vector<double> poolMs;
    std::function<void()> assembleNext = [&]() {
        assembler.assemble(work.decision, work.snapshot, context(),
                           [&](EvidenceAssembler::Result r) {
                               if (!r.ok())
                                   std::fprintf(stderr, "assembly failed: %s\n", r.error.c_str());
                               ++out.assembled;
                               poolMs.push_back(r.build.totalMs);
                               if (running)
                                   assembleNext();
                           });
    };
    std::thread eventThread([&] { io.run(); });
    if (busy)
        boost::asio::post(io, assembleNext);

    std::thread camera([&] {
        hal::FramePool pool(hal::frameBytes(hal::PixelFormat::YUV420, 1920, 1080), 70);
        std::uint64_t seq = 0;
        while (running) {
            std::shared_ptr<hal::Frame> f = pool.acquire();
            if (f) {
                f->sequence = seq++;
                f->stamp.sampleNs = monotonicNow();
                f->width = 1920;
                f->height = 1080;
                f->stride = 1920;
                f->format = hal::PixelFormat::YUV420;
                ring.push(std::move(f));
            }
            std::this_thread::sleep_for(std::chrono::microseconds(33333));
        }
    });

    std::this_thread::sleep_for(std::chrono::milliseconds(busy ? 500 : 100));
    std::mutex lock;
    for (int i = 0; i < events; ++i) {
        drivers::LoopCrossing c = crossingEndingAt(monotonicNow());
        boost::asio::post(io, [&, c]() {
            Nanos start = monotonicNow();
            std::vector<Decision> ds = rule.onLoopCrossing(c);
            Nanos ruled = monotonicNow();
            std::uint64_t id = 0;
            for (const Decision &d : ds)
                if (d.verdict == Decision::Verdict::Capture)
                    id = ring.request(snapshotRequestFor(d, EvidenceOptions{}), [](Snapshot) {});
            Nanos decided = monotonicNow();
            {
                std::lock_guard<std::mutex> g(lock);
                out.us.push_back((decided - c.exitOnNs) / 1000.0);
                out.ruleUs.push_back((ruled - start) / 1000.0);
            }
            ring.cancel(id);
            drivers::LoopPresence off; /* the vehicle continues: the candidate ends */
            off.loop = "NB1-exit";
            off.at.sampleNs = c.exitOnNs + 1;
            rule.onLoopPresence(off);
        });
        std::this_thread::sleep_for(std::chrono::microseconds(2000));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    running = false;
    camera.join();
    /* Let the assembly in flight finish before tearing down. */
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (assembler.inFlight() && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    guard.reset();
    io.stop();
    eventThread.join();
    workers.join();
    out.assemblyMsInPool = median(poolMs);
    std::lock_guard<std::mutex> g(lock);
    return out;
}

} /* namespace */

int main()
{
    cv::setNumThreads(1); /* "one core": OpenCV's own thread pool off */

    /* Baseline: one 1080p JPEG encode at the shots' quality, interleaved with the
     * assemblies below. */
    cv::Mat frame(1080, 1920, CV_8UC3);
    render(frame, 0);
    std::vector<double> jpeg;
    AssemblyFigures a720 = measureAssembly(1280, 720, 11, frame, &jpeg);
    AssemblyFigures a1080 = measureAssembly(1920, 1080, 15, frame, &jpeg);
    const double jpegMs = median(jpeg);
    std::printf("baseline: 1080p JPEG q%d %.1f ms\n", EvidenceOptions{}.shotJpegQuality, jpegMs);
    for (auto [name, a] : {std::pair{"720p", a720}, std::pair{"1080p", a1080}})
        std::printf("assembly %s: %.1f ms wall, %.1f ms CPU (shots %.1f, plates %.1f, clip %.1f) "
                    "%.0f KB sealed, %d plate candidates\n",
                    name, a.totalMs, a.cpuMs, a.shotsMs, a.plateMs, a.clipMs, a.kb, a.candidates);

    /* Ring memory at 1080p30, 2 s pre-trigger, YUV420 (libcamera) and BGR (sim, OpenCV). */
    FrameRing::Options ro;
    ro.preTriggerSeconds = 2;
    ro.fps = 30;
    ro.maxBytes = std::size_t(1) << 31;
    double ringMb[2] = {0, 0};
    std::size_t ringFrames = 0;
    int k = 0;
    for (hal::PixelFormat format : {hal::PixelFormat::YUV420, hal::PixelFormat::BGR888}) {
        boost::asio::io_context io;
        FrameRing ring(ro, io.get_executor());
        hal::FramePool pool(hal::frameBytes(format, 1920, 1080), ring.frameCap() + 2);
        for (int i = 0; i < 300; ++i) {
            std::shared_ptr<hal::Frame> f = pool.acquire();
            if (!f) {
                std::fprintf(stderr, "ring did not recycle frames\n");
                return 1;
            }
            f->sequence = i;
            f->stamp.sampleNs = i * 33'333'333LL + 1;
            f->width = 1920;
            f->height = 1080;
            f->format = format;
            ring.push(std::move(f));
        }
        FrameRing::Stats s = ring.stats();
        ringMb[k++] = s.peakBytes / 1048576.0;
        ringFrames = s.peakFrames;
    }
    std::printf("ring 1080p30 2 s: %zu frames, %.0f MB YUV420, %.0f MB BGR888\n", ringFrames,
                ringMb[0], ringMb[1]);

    /* Trigger latency, idle worker vs worker assembling 1080p violations. */
    auto key = ev::SigningKey::generate();
    EvidenceOptions options;
    hal::FramePool pool(hal::frameBytes(hal::PixelFormat::BGR888, 1920, 1080), 40);
    Violation work = makeViolation(pool, 1920, 1080, options);
    /* Idle and busy rounds alternate, so a burst of load from elsewhere on the shared
     * machine falls on both sides of the ratio alike. */
    Latency idle, busy;
    /* One p99 per round and their median: a burst from elsewhere on a 2-core machine
     * spoils one round's tail, not the figure (the pooled p99 is printed as well). */
    std::vector<double> idleRoundP99, busyRoundP99;
    for (int round = 0; round < 5; ++round) {
        for (bool withAssembly : {false, true}) {
            Latency l = measureLatency(withAssembly, 500, work, *key);
            (withAssembly ? busyRoundP99 : idleRoundP99).push_back(percentile(l.us, 99));
            Latency &into = withAssembly ? busy : idle;
            into.us.insert(into.us.end(), l.us.begin(), l.us.end());
            into.ruleUs.insert(into.ruleUs.end(), l.ruleUs.begin(), l.ruleUs.end());
            into.assembled += l.assembled;
            into.assemblyMsInPool = l.assemblyMsInPool;
        }
    }
    const double idleP50 = percentile(idle.us, 50), idleP99 = median(idleRoundP99);
    const double busyP50 = percentile(busy.us, 50), busyP99 = median(busyRoundP99);
    const double idlePooledP99 = percentile(idle.us, 99), busyPooledP99 = percentile(busy.us, 99);
    std::printf("trigger latency idle: p50 %.0f us p99 %.0f us (median of %zu rounds; pooled "
                "%.0f us) max %.0f us (%zu events)\n",
                idleP50, idleP99, idleRoundP99.size(), idlePooledP99, percentile(idle.us, 100),
                idle.us.size());
    std::printf("trigger latency with assembly: p50 %.0f us p99 %.0f us (median of %zu rounds; "
                "pooled %.0f us) max %.0f us (%zu events, %d assemblies, %.1f ms each in the "
                "pool)\n",
                busyP50, busyP99, busyRoundP99.size(), busyPooledP99, percentile(busy.us, 100),
                busy.us.size(), busy.assembled, busy.assemblyMsInPool);
    std::printf("rule compute: p50 %.1f us p99 %.1f us\n", percentile(busy.ruleUs, 50),
                percentile(busy.ruleUs, 99));

    const bool met = busyP99 <= 1000 && a1080.cpuMs <= 150;
    std::printf("{\"jpeg_1080p_ms\":%.2f,\"assembly_720p_ms\":%.1f,\"assembly_1080p_ms\":%.1f,"
                "\"assembly_720p_cpu_ms\":%.1f,\"assembly_1080p_cpu_ms\":%.1f,"
                "\"assembly_1080p_vs_jpeg\":%.2f,\"assembly_1080p_vs_720p\":%.2f,"
                "\"plate_ms_1080p\":%.1f,\"plate_share_1080p\":%.3f,\"plate_share_720p\":%.3f,"
                "\"record_kb_1080p\":%.0f,\"record_kb_720p\":%.0f,"
                "\"ring_frames_1080p30_2s\":%zu,\"ring_mb_yuv420\":%.1f,\"ring_mb_bgr888\":%.1f,"
                "\"latency_idle_p50_us\":%.1f,\"latency_idle_p99_us\":%.1f,"
                "\"latency_busy_p50_us\":%.1f,\"latency_busy_p99_us\":%.1f,"
                "\"latency_idle_pooled_p99_us\":%.1f,\"latency_busy_pooled_p99_us\":%.1f,"
                "\"latency_busy_vs_idle_p99\":%.2f,\"rule_p50_us\":%.2f,\"rule_p99_us\":%.2f,"
                "\"assemblies_during_latency\":%d,\"targets_met\":%s}\n",
                jpegMs, a720.totalMs, a1080.totalMs, a720.cpuMs, a1080.cpuMs,
                a1080.totalMs / jpegMs, a1080.totalMs / a720.totalMs, a1080.plateMs,
                a1080.plateMs / a1080.totalMs, a720.plateMs / a720.totalMs, a1080.kb, a720.kb,
                ringFrames, ringMb[0], ringMb[1], idleP50, idleP99, busyP50, busyP99,
                idlePooledP99, busyPooledP99,
                idleP99 > 0 ? busyP99 / idleP99 : 0, percentile(busy.ruleUs, 50),
                percentile(busy.ruleUs, 99), busy.assembled, met ? "true" : "false");
    return 0;
}
