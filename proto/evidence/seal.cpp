#include "evidence/seal.h"

#include <stdexcept>

#include "evidence/crypto.h"

namespace stopline::evidence {

std::string recordHash(std::string_view recordBytes)
{
    return sha256(recordBytes);
}

static void hashFrame(Frame *frame)
{
    if (!frame->data().empty())
        frame->set_sha256(sha256(frame->data()));
}

void hashBlobs(Record *record)
{
    if (!record->has_violation())
        return;
    Violation *v = record->mutable_violation();
    for (Frame &frame : *v->mutable_frames())
        hashFrame(&frame);
    for (PlateCandidate &candidate : *v->mutable_plate()->mutable_candidates())
        hashFrame(candidate.mutable_crop());
}

ChainWriter::ChainWriter(std::string deviceId, const SigningKey *key, uint64_t nextSeq,
                         std::string headHash)
    : deviceId_(std::move(deviceId)), key_(key), nextSeq_(nextSeq), headHash_(std::move(headHash))
{}

Sealed ChainWriter::seal(Record &record)
{
    if (nextSeq_ == 0 && !record.has_genesis())
        throw std::logic_error("a chain must start with a Genesis record");
    record.set_format_version(FORMAT_VERSION_1);
    record.set_device_id(deviceId_);
    record.set_seq(nextSeq_);
    record.set_prev_hash(nextSeq_ == 0 ? std::string() : headHash_);
    if (record.record_id().empty())
        record.set_record_id(deviceId_ + "-" + std::to_string(nextSeq_));
    hashBlobs(&record);

    std::string bytes;
    if (!record.SerializeToString(&bytes))
        throw std::runtime_error("cannot serialize record");

    SealedRecord sealed;
    sealed.set_signature(key_->sign(kRecordDomain, bytes));
    sealed.set_key_id(key_->keyId());
    Sealed out;
    out.recordHash = recordHash(bytes);
    out.seq = nextSeq_;
    sealed.set_record(std::move(bytes));
    if (!sealed.SerializeToString(&out.bytes))
        throw std::runtime_error("cannot serialize sealed record");

    headHash_ = out.recordHash;
    ++nextSeq_;
    return out;
}

std::string ChainWriter::checkpoint(const Instant &time, const ClockState &clock) const
{
    if (nextSeq_ == 0)
        throw std::logic_error("no records to checkpoint");
    Checkpoint cp;
    cp.set_device_id(deviceId_);
    cp.set_seq_high(nextSeq_ - 1);
    cp.set_head_hash(headHash_);
    *cp.mutable_time() = time;
    *cp.mutable_clock() = clock;
    std::string bytes = cp.SerializeAsString();
    SealedCheckpoint sealed;
    sealed.set_signature(key_->sign(kCheckpointDomain, bytes));
    sealed.set_key_id(key_->keyId());
    sealed.set_checkpoint(std::move(bytes));
    return sealed.SerializeAsString();
}

Record makeGenesis(const SigningKey &key, const std::string &deviceSerial)
{
    Record record;
    Genesis *g = record.mutable_genesis();
    g->set_public_key(key.publicKey().raw());
    g->set_key_id(key.keyId());
    g->set_device_serial(deviceSerial);
    record.set_device_serial(deviceSerial);
    return record;
}

std::string sealReceipt(const Receipt &receipt, const SigningKey &key)
{
    std::string bytes = receipt.SerializeAsString();
    SealedReceipt sealed;
    sealed.set_signature(key.sign(kReceiptDomain, bytes));
    sealed.set_key_id(key.keyId());
    sealed.set_receipt(std::move(bytes));
    return sealed.SerializeAsString();
}

bool checkReceipt(std::string_view sealedReceipt, const PublicKey &serverKey,
                  const std::string &deviceId, uint64_t seq, const std::string &hash,
                  std::string *reason)
{
    SealedReceipt sealed;
    if (!sealed.ParseFromArray(sealedReceipt.data(), static_cast<int>(sealedReceipt.size()))) {
        *reason = "receipt does not parse";
        return false;
    }
    if (sealed.key_id() != serverKey.keyId()) {
        *reason = "receipt signed by unknown key " + sealed.key_id();
        return false;
    }
    if (!serverKey.verify(kReceiptDomain, sealed.receipt(), sealed.signature())) {
        *reason = "receipt signature invalid";
        return false;
    }
    Receipt receipt;
    if (!receipt.ParseFromString(sealed.receipt())) {
        *reason = "receipt body does not parse";
        return false;
    }
    if (receipt.device_id() != deviceId || receipt.seq() != seq || receipt.record_hash() != hash) {
        *reason = "receipt is for " + receipt.device_id() + " seq " +
                  std::to_string(receipt.seq()) + ", not this record";
        return false;
    }
    return true;
}

} /* namespace stopline::evidence */
