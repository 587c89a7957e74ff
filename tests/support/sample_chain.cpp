#include "sample_chain.h"

#include <cstdio>

#include "evidence/crypto.h"

namespace stopline::testkit {

using namespace evidence;

static Frame *addFrame(Violation *v, FrameRole role, int64_t utcNs, size_t size)
{
    Frame *f = v->add_frames();
    f->set_role(role);
    f->mutable_captured()->set_utc_ns(utcNs);
    f->mutable_captured()->set_monotonic_ns(utcNs % 1'000'000'000'000);
    f->set_encoding("jpeg");
    f->set_width(1920);
    f->set_height(1080);
    f->set_data(randomBytes(size));
    return f;
}

Record sampleViolation(uint64_t index, int64_t utcNs)
{
    Record r;
    r.mutable_created()->set_utc_ns(utcNs);
    r.mutable_created()->set_monotonic_ns(utcNs % 1'000'000'000'000);
    r.mutable_clock()->set_synchronized(true);
    r.mutable_clock()->set_estimated_error_us(800);
    r.mutable_clock()->set_maximum_error_us(12000);
    r.mutable_clock()->set_source("sample");
    r.mutable_clock()->set_boot_id("sample-boot");
    r.set_software_version("sample");
    r.set_config_hash(std::string(64, 'c'));
    r.set_calibration_id("cal-1");

    Violation *v = r.mutable_violation();
    v->set_type(RED_LIGHT);
    v->set_statute_code("RCW 46.61.055");
    v->set_statute_description("Failure to stop at a steady red indication");
    v->mutable_location()->set_code("SAMPLE-0001");
    v->mutable_location()->set_description("Sample Ave & Test St");
    v->mutable_location()->set_direction(NORTHBOUND);
    v->mutable_location()->set_lane(static_cast<uint32_t>(1 + index % 2));
    v->mutable_event()->set_utc_ns(utcNs);
    SignalTimeline *s = v->mutable_signal();
    s->set_head("NB");
    s->set_measured_yellow_us(4'000'000);
    s->set_time_into_red_a_us(1'250'000 + static_cast<int64_t>(index) * 1000);
    s->set_time_into_red_b_us(2'750'000);
    s->set_grace_us(300'000);
    s->set_minimum_yellow_us(3'500'000);
    Frame *a = addFrame(v, FRAME_A_SHOT, utcNs, 4096);
    addFrame(v, FRAME_B_SHOT, utcNs + 1'500'000'000, 4096);
    a->set_sha256(sha256(a->data()));
    PlateCandidate *c = v->mutable_plate()->add_candidates();
    c->mutable_box()->set_x(800);
    c->mutable_box()->set_y(600);
    c->mutable_box()->set_width(120);
    c->mutable_box()->set_height(60);
    c->set_score(0.9);
    c->set_source_sha256(a->sha256());
    c->mutable_crop()->set_role(FRAME_PLATE_CROP);
    c->mutable_crop()->set_encoding("jpeg");
    c->mutable_crop()->set_data(randomBytes(512));
    return r;
}

SampleChain makeSampleChain(const SigningKey &key, const std::string &deviceId, unsigned count,
                            int64_t startUtcNs)
{
    SampleChain chain;
    ChainWriter writer(deviceId, &key, 0, {});
    for (unsigned i = 0; i < count; ++i) {
        int64_t t = startUtcNs + static_cast<int64_t>(i) * 1'000'000'000;
        Record r;
        if (i == 0) {
            r = makeGenesis(key, "SN-" + deviceId);
            r.mutable_created()->set_utc_ns(t);
            r.mutable_created()->set_monotonic_ns(t % 1'000'000'000'000);
            r.mutable_clock()->set_synchronized(true);
            r.mutable_clock()->set_boot_id("sample-boot");
        } else {
            r = sampleViolation(i, t);
        }
        chain.records.push_back(writer.seal(r));
    }
    Instant now;
    now.set_utc_ns(startUtcNs + static_cast<int64_t>(count) * 1'000'000'000);
    ClockState clock;
    clock.set_synchronized(true);
    chain.checkpoint = writer.checkpoint(now, clock);
    return chain;
}

std::string recordFileName(uint64_t seq)
{
    char name[32];
    std::snprintf(name, sizeof(name), "%012llu.slr", static_cast<unsigned long long>(seq));
    return name;
}

std::string checkpointFileName(uint64_t seqHigh)
{
    char name[40];
    std::snprintf(name, sizeof(name), "checkpoint-%012llu.slc",
                  static_cast<unsigned long long>(seqHigh));
    return name;
}

} /* namespace stopline::testkit */
