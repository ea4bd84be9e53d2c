#include "storage/rados_store.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <rados/librados.hpp>

namespace safe::storage {
namespace {

// The backup object's metadata xattr: version (u8) | size (u64 LE) | upload_day (i32 LE).
constexpr char kMetaAttr[] = "safe.meta";
constexpr uint8_t kMetaVersion = 1;
constexpr size_t kMetaBytes = 1 + 8 + 4;

constexpr char kDaysObject[] = "days";
constexpr char kDayObjectPrefix[] = "day-";
constexpr char kValueObjectPrefix[] = "meta-";

// Index keys read per round trip; also the number of metadata reads (and guarded deletes) a
// scan or sweep keeps in flight at once.
constexpr uint64_t kPageKeys = 512;
// A put retries its two forms while concurrent creates and deletes of the same key keep
// changing the answer; each retry means another client made progress.
constexpr int kPutAttempts = 64;
// A sweep walks one index shard again when puts dated before the cutoff added entries during the
// walk; after this many walks the shard is left for the next sweep.
constexpr int kShardAttempts = 4;

// Days whose registration in "days" a store remembers (see Impl::registered_days).
constexpr size_t kRememberedDays = 4;

// Writes go to a full cluster or pool instead of waiting for space: the OSDs answer -ENOSPC or
// -EDQUOT (deletes, which free space, are still accepted).
constexpr int kWriteFlags = librados::OPERATION_FULL_TRY;

std::string ErrnoText(int rc) { return std::error_code(-rc, std::generic_category()).message(); }

// The one translation of librados return codes. `what` names the operation, never a key.
Status FromRados(int rc, const std::string& what) {
  if (rc == -ENOENT) return Status::NotFound(what + ": not found");
  if (rc == -ENOSPC || rc == -EDQUOT) return Status::NoSpace(what + ": " + ErrnoText(rc));
  return Status::IOError(what + ": " + ErrnoText(rc));
}

Status FromException(const std::string& what, const std::exception& e) {
  return Status::IOError(what + ": librados failed: " + e.what());
}

// Metadata format 2 (issue 16): version (u8, = 2) | size (u64) | upload_day (i32) | tag (16) |
// count of versions (u8) | per version, most recently replaced first: size (u64) | upload_day
// (i32) | replaced_day (i32). The object's data is the current blob followed by the versions'
// blobs in that order. Format 1 (13 bytes, no tag, no versions) is still read.
constexpr uint8_t kMetaVersion2 = 2;
constexpr size_t kMeta2Bytes = 1 + 8 + 4 + 16 + 1;
constexpr size_t kMetaVersionBytes = 8 + 4 + 4;
constexpr uint32_t kMaxVersions = 255;

void AppendU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void AppendDay(std::string* out, Day day) {
  uint32_t u;
  std::memcpy(&u, &day, sizeof(u));
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}
uint64_t ReadU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}
Day ReadDay(const char* p) {
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  Day day;
  std::memcpy(&day, &u, sizeof(day));
  return day;
}

// A decoded metadata xattr.
struct Meta {
  uint64_t size = 0;
  Day upload_day = 0;
  Tag tag{};
  std::vector<VersionInfo> versions;  // most recently replaced first

  BackupInfo Info() const {
    BackupInfo info{size, upload_day, tag};
    info.versions = static_cast<uint32_t>(versions.size());
    for (const VersionInfo& v : versions) info.version_bytes += v.size;
    info.oldest_replaced_day = versions.empty() ? 0 : versions.back().replaced_day;
    return info;
  }
  // Bytes of the object's data: the current blob and every version's.
  uint64_t DataBytes() const { return size + Info().version_bytes; }
};

librados::bufferlist EncodeMeta(const Meta& meta) {
  std::string out;
  out.push_back(static_cast<char>(kMetaVersion2));
  AppendU64(&out, meta.size);
  AppendDay(&out, meta.upload_day);
  out.append(reinterpret_cast<const char*>(meta.tag.data()), meta.tag.size());
  out.push_back(static_cast<char>(meta.versions.size()));
  for (const VersionInfo& v : meta.versions) {
    AppendU64(&out, v.size);
    AppendDay(&out, v.upload_day);
    AppendDay(&out, v.replaced_day);
  }
  librados::bufferlist bl;
  bl.append(out.data(), out.size());
  return bl;
}

Result<Meta> DecodeFullMeta(const librados::bufferlist& bl) {
  const Status unknown = Status::Corruption("backup metadata has an unknown format");
  std::string value = bl.to_str();
  if (value.empty()) return unknown;
  const char* p = value.data();
  Meta meta;
  if (static_cast<uint8_t>(p[0]) == kMetaVersion && value.size() == kMetaBytes) {
    meta.size = ReadU64(p + 1);
    meta.upload_day = ReadDay(p + 9);
    return meta;
  }
  if (static_cast<uint8_t>(p[0]) != kMetaVersion2 || value.size() < kMeta2Bytes) return unknown;
  const size_t count = static_cast<uint8_t>(p[kMeta2Bytes - 1]);
  if (value.size() != kMeta2Bytes + count * kMetaVersionBytes) return unknown;
  meta.size = ReadU64(p + 1);
  meta.upload_day = ReadDay(p + 9);
  std::memcpy(meta.tag.data(), p + 13, meta.tag.size());
  for (size_t i = 0; i < count; ++i) {
    const char* v = p + kMeta2Bytes + i * kMetaVersionBytes;
    meta.versions.push_back(VersionInfo{ReadU64(v), ReadDay(v + 8), ReadDay(v + 12)});
  }
  return meta;
}

Result<BackupInfo> DecodeMeta(const librados::bufferlist& bl) {
  Result<Meta> meta = DecodeFullMeta(bl);
  if (!meta.ok()) return meta.status();
  return meta->Info();
}

// "days" omap key: 8 hex digits of the day with its sign bit flipped, so that the omap's byte
// order is the days' numeric order (negative days included).
std::string DayKey(Day day) {
  uint32_t u;
  std::memcpy(&u, &day, sizeof(u));
  char buf[9];
  std::snprintf(buf, sizeof(buf), "%08x", u ^ 0x80000000u);
  return buf;
}

std::optional<Day> ParseDayKey(const std::string& key) {
  if (key.size() != 8) return std::nullopt;
  uint32_t u = 0;
  for (char c : key) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    u = (u << 4) | static_cast<uint32_t>(v);
  }
  u ^= 0x80000000u;
  Day day;
  std::memcpy(&day, &u, sizeof(day));
  return day;
}

// A backup's object name is the 64 lowercase hex digits of its key; its index shard is the
// first of them.
std::string ShardObject(Day day, char first_hex_digit) {
  return kDayObjectPrefix + std::to_string(day) + "-" + first_hex_digit;
}

std::string ShardObject(Day day, int shard) { return ShardObject(day, "0123456789abcdef"[shard]); }

// Asynchronous operations in flight, waited for together. A submission that fails at once
// keeps its error in place of a completion.
class AioBatch {
 public:
  AioBatch() = default;
  AioBatch(const AioBatch&) = delete;
  AioBatch& operator=(const AioBatch&) = delete;
  ~AioBatch() {
    for (auto& op : ops_) {
      if (op.completion != nullptr) {
        op.completion->wait_for_complete();
        op.completion->release();
      }
    }
  }

  // Each Submit* returns the operation's index in this batch. The operation and its output
  // buffers must outlive Wait().
  size_t SubmitWrite(librados::IoCtx& io, const std::string& oid,
                     librados::ObjectWriteOperation* op) {
    librados::AioCompletion* c = librados::Rados::aio_create_completion();
    int rc = io.aio_operate(oid, c, op, kWriteFlags);
    return Add(c, rc);
  }
  size_t SubmitRead(librados::IoCtx& io, const std::string& oid,
                    librados::ObjectReadOperation* op) {
    librados::AioCompletion* c = librados::Rados::aio_create_completion();
    int rc = io.aio_operate(oid, c, op, nullptr);
    return Add(c, rc);
  }
  void Wait() {
    for (auto& op : ops_) {
      if (op.completion == nullptr) continue;
      op.completion->wait_for_complete();
      op.rc = op.completion->get_return_value();
      op.version = op.completion->get_version64();
      op.completion->release();
      op.completion = nullptr;
    }
  }

  // REQUIRES: Wait() was called.
  int rc(size_t i) const { return ops_[i].rc; }
  // The object's version after operation i (for assert_version).
  uint64_t version(size_t i) const { return ops_[i].version; }

 private:
  struct Op {
    librados::AioCompletion* completion = nullptr;
    int rc = 0;
    uint64_t version = 0;
  };

  size_t Add(librados::AioCompletion* c, int submit_rc) {
    Op op;
    if (submit_rc < 0) {
      c->release();
      op.rc = submit_rc;
    } else {
      op.completion = c;
    }
    ops_.push_back(op);
    return ops_.size() - 1;
  }

  std::vector<Op> ops_;
};

// One page of an omap object's keys.
struct KeyPage {
  std::vector<std::string> keys;
  bool more = false;
  uint64_t version = 0;  // the object's version when the page was read
};

}  // namespace

struct RadosBackupStore::Impl {
  librados::Rados rados;
  librados::IoCtx io;
  std::string pool;
  std::function<void()> sweep_window_for_testing;

  // Days this store has put into "days" (the newest few): a put on such a day writes only its
  // shard entry. A day leaves the set when this store's sweep removes it from "days".
  std::mutex days_mu;
  std::set<Day> registered_days;  // GUARDED_BY(days_mu)

  bool DayRegistered(Day day) {
    std::lock_guard<std::mutex> lock(days_mu);
    return registered_days.count(day) != 0;
  }
  void RememberDay(Day day) {
    std::lock_guard<std::mutex> lock(days_mu);
    registered_days.insert(day);
    while (registered_days.size() > kRememberedDays) registered_days.erase(registered_days.begin());
  }
  void ForgetDay(Day day) {
    std::lock_guard<std::mutex> lock(days_mu);
    registered_days.erase(day);
  }

  ~Impl() {
    io.close();
    rados.shutdown();
  }

  // Keys of `oid` after `after`, up to kPageKeys. NotFound when the object does not exist.
  Result<KeyPage> ReadKeys(const std::string& oid, const std::string& after) {
    std::set<std::string> keys;
    KeyPage page;
    int keys_rc = 0;
    librados::ObjectReadOperation op;
    op.omap_get_keys2(after, kPageKeys, &keys, &page.more, &keys_rc);
    AioBatch batch;
    size_t i = batch.SubmitRead(io, oid, &op);
    batch.Wait();
    int rc = batch.rc(i) < 0 ? batch.rc(i) : keys_rc;
    if (rc < 0) return FromRados(rc, "index read");
    page.keys.assign(keys.begin(), keys.end());
    page.version = batch.version(i);
    return page;
  }

  // Every day that has index objects, oldest first.
  Result<std::vector<Day>> ReadDays() {
    std::vector<Day> days;
    std::string after;
    for (;;) {
      Result<KeyPage> page = ReadKeys(kDaysObject, after);
      if (!page.ok()) {
        if (page.status().IsNotFound()) break;  // nothing was ever put
        return page.status();
      }
      for (const std::string& key : page->keys) {
        std::optional<Day> day = ParseDayKey(key);
        if (!day) return Status::Corruption("the day index holds a malformed entry");
        days.push_back(*day);
      }
      if (!page->more || page->keys.empty()) break;
      after = page->keys.back();
    }
    return days;
  }

  // The metadata xattr of each named object: rcs[i] is 0 (metas[i] set) or the librados error.
  void ReadMetas(const std::vector<std::string>& names, std::vector<int>* rcs,
                 std::vector<librados::bufferlist>* metas) {
    metas->assign(names.size(), librados::bufferlist());
    rcs->assign(names.size(), 0);
    // A read operation with getxattr, not IoCtx::aio_getxattr: the latter leaks 256 bytes per
    // call in Debian's librados2 16.2.15 (found by LeakSanitizer; every scan and sweep reads
    // one xattr per record, so the leak grew with the pool).
    std::vector<librados::ObjectReadOperation> ops(names.size());
    AioBatch batch;
    for (size_t i = 0; i < names.size(); ++i) {
      ops[i].getxattr(kMetaAttr, &(*metas)[i], nullptr);
      batch.SubmitRead(io, names[i], &ops[i]);
    }
    batch.Wait();
    for (size_t i = 0; i < names.size(); ++i) (*rcs)[i] = batch.rc(i);
  }

  // Drops the versions of `name` replaced before cutoff, guarded by its metadata `meta_bytes`
  // (decoded: meta); a record changed meanwhile is left alone.
  Status TrimVersions(const std::string& name, const librados::bufferlist& meta_bytes,
                      const Meta& meta, Day cutoff) {
    Meta trimmed = meta;
    while (!trimmed.versions.empty() && trimmed.versions.back().replaced_day < cutoff) {
      trimmed.versions.pop_back();
    }
    librados::ObjectWriteOperation op;
    op.cmpxattr(kMetaAttr, LIBRADOS_CMPXATTR_OP_EQ, meta_bytes);
    op.truncate(trimmed.DataBytes());
    op.setxattr(kMetaAttr, EncodeMeta(trimmed));
    int rc = io.operate(name, &op, kWriteFlags);
    if (rc == 0 || rc == -ENOENT || rc == -ECANCELED) return Status::OK();
    return FromRados(rc, "sweep: trimming versions");
  }

  // Walks one index shard of `day` (before cutoff), deleting expired records. Returns whether
  // the shard object is gone afterwards (false: left for the next sweep).
  Result<bool> SweepShard(Day day, int shard, Day cutoff, uint64_t* deleted) {
    const std::string oid = ShardObject(day, shard);
    for (int attempt = 0; attempt < kShardAttempts; ++attempt) {
      std::string after;
      uint64_t first_version = 0;
      uint64_t last_version = 0;
      bool first_page = true;
      bool gone = false;
      Status error;
      for (;;) {
        Result<KeyPage> page = ReadKeys(oid, after);
        if (!page.ok()) {
          if (!page.status().IsNotFound()) return page.status();
          gone = true;  // never written, or removed by another sweep
          break;
        }
        if (first_page) first_version = page->version;
        first_page = false;
        last_version = page->version;

        std::vector<int> rcs;
        std::vector<librados::bufferlist> metas;
        ReadMetas(page->keys, &rcs, &metas);
        // Guarded deletes of the expired ones: each applies only if the metadata is still the
        // one read here, so a re-upload in between is kept.
        std::vector<size_t> expired;
        for (size_t i = 0; i < page->keys.size(); ++i) {
          if (rcs[i] == -ENOENT) continue;  // deleted since: a stale entry
          if (rcs[i] < 0) {
            if (error.ok()) error = FromRados(rcs[i], "sweep: metadata read");
            continue;
          }
          Result<Meta> meta = DecodeFullMeta(metas[i]);
          if (!meta.ok()) {
            if (error.ok()) error = meta.status();
            continue;
          }
          if (meta->upload_day >= cutoff) {
            // Re-uploaded since: a stale entry. The record's older versions may have expired
            // (a version's replaced day is the upload day of the one after it, so this day's
            // sweep is when they do): trim them.
            if (!meta->versions.empty() && meta->versions.back().replaced_day < cutoff) {
              Status trimmed = TrimVersions(page->keys[i], metas[i], *meta, cutoff);
              if (!trimmed.ok() && error.ok()) error = trimmed;
            }
            continue;
          }
          expired.push_back(i);
        }
        if (sweep_window_for_testing && !expired.empty()) sweep_window_for_testing();
        std::vector<librados::ObjectWriteOperation> ops(expired.size());
        AioBatch deletes;
        for (size_t j = 0; j < expired.size(); ++j) {
          ops[j].cmpxattr(kMetaAttr, LIBRADOS_CMPXATTR_OP_EQ, metas[expired[j]]);
          ops[j].remove();
          deletes.SubmitWrite(io, page->keys[expired[j]], &ops[j]);
        }
        deletes.Wait();
        for (size_t j = 0; j < expired.size(); ++j) {
          int rc = deletes.rc(j);
          if (rc == 0) {
            ++*deleted;
          } else if (rc != -ENOENT && rc != -ECANCELED) {
            // ENOENT: deleted by someone else; ECANCELED: re-uploaded since it was read.
            if (error.ok()) error = FromRados(rc, "sweep: delete");
          }
        }
        if (!page->more || page->keys.empty()) break;
        after = page->keys.back();
      }
      if (!error.ok()) return error;  // keep the shard: its entries are still needed
      if (gone) return true;
      // Entries added behind the walk (an older key inserted after its page was read) would be
      // missed: walk again.
      if (first_version != last_version) continue;
      librados::ObjectWriteOperation remove;
      remove.assert_version(last_version);
      remove.remove();
      int rc = io.operate(oid, &remove, kWriteFlags);
      if (rc == 0 || rc == -ENOENT) return true;
      if (rc == -ERANGE || rc == -EOVERFLOW) continue;  // entries were added: walk again
      return FromRados(rc, "sweep: index removal");
    }
    return false;
  }
};

RadosBackupStore::RadosBackupStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RadosBackupStore::~RadosBackupStore() = default;

Result<std::unique_ptr<RadosBackupStore>> RadosBackupStore::Open(const RadosOptions& options) {
  if (options.conf_path.empty()) return Status::InvalidArgument("rados: conf_path is empty");
  if (options.pool.empty()) return Status::InvalidArgument("rados: pool is empty");
  if (options.user.empty()) return Status::InvalidArgument("rados: user is empty");
  try {
    auto impl = std::make_unique<Impl>();
    impl->pool = options.pool;
    impl->sweep_window_for_testing = options.sweep_window_for_testing;
    const std::string name = "client." + options.user;
    int rc = impl->rados.init2(name.c_str(), "ceph", 0);
    if (rc < 0) return FromRados(rc, "rados: cannot initialise the client");
    rc = impl->rados.conf_read_file(options.conf_path.c_str());
    if (rc < 0) return FromRados(rc, "rados: cannot read " + options.conf_path);
    if (!options.keyring.empty()) {
      rc = impl->rados.conf_set("keyring", options.keyring.c_str());
      if (rc < 0) return FromRados(rc, "rados: cannot use the keyring " + options.keyring);
    }
    const std::string op_timeout = std::to_string(options.op_timeout_seconds);
    const std::string connect_timeout = std::to_string(options.connect_timeout_seconds);
    for (const auto& [key, value] : std::vector<std::pair<const char*, std::string>>{
             {"rados_osd_op_timeout", op_timeout},
             {"rados_mon_op_timeout", op_timeout},
             {"client_mount_timeout", connect_timeout}}) {
      rc = impl->rados.conf_set(key, value.c_str());
      if (rc < 0) return FromRados(rc, std::string("rados: cannot set ") + key);
    }
    rc = impl->rados.connect();
    if (rc < 0) {
      // -ENOENT here means a missing keyring, not a missing object.
      return Status::IOError("rados: cannot connect to the cluster as " + name + ": " +
                             ErrnoText(rc));
    }
    rc = impl->rados.ioctx_create(options.pool.c_str(), impl->io);
    if (rc == -ENOENT)
      return Status::NotFound("rados: the pool " + options.pool + " does not exist");
    if (rc < 0) return FromRados(rc, "rados: cannot open the pool " + options.pool);
    impl->io.set_namespace(options.name_space);
    return std::unique_ptr<RadosBackupStore>(new RadosBackupStore(std::move(impl)));
  } catch (const std::exception& e) {
    return FromException("rados: open", e);
  }
}

namespace {
// The first read of a Get asks for this many bytes with the metadata: a current blob up to this
// size costs one round trip however many versions follow it.
constexpr uint64_t kFirstReadBytes = 1 << 20;

// Bytes [offset, offset + length) of the object `name` if its metadata xattr is still `meta`;
// FailedPrecondition when it changed.
Result<std::string> ReadGuarded(librados::IoCtx& io, const std::string& name,
                                const librados::bufferlist& meta, uint64_t offset,
                                uint64_t length) {
  librados::bufferlist data;
  int data_rc = 0;
  librados::ObjectReadOperation op;
  op.cmpxattr(kMetaAttr, LIBRADOS_CMPXATTR_OP_EQ, meta);
  op.read(offset, length, &data, &data_rc);
  int rc = io.operate(name, &op, nullptr);
  if (rc == -ECANCELED) return Status::FailedPrecondition("the record changed meanwhile");
  if (rc < 0) return FromRados(rc, "get");
  if (data.length() != length) {
    return Status::Corruption("backup object length differs from its metadata");
  }
  return data.to_str();
}
}  // namespace

Result<BackupRecord> RadosBackupStore::Get(const BackupId& key) {
  try {
    const std::string name = key.ToHex();
    for (int attempt = 0; attempt < kPutAttempts; ++attempt) {
      librados::bufferlist data;
      librados::bufferlist meta;
      int data_rc = 0;
      int meta_rc = 0;
      librados::ObjectReadOperation op;
      op.read(0, kFirstReadBytes, &data, &data_rc);
      op.getxattr(kMetaAttr, &meta, &meta_rc);
      int rc = impl_->io.operate(name, &op, nullptr);
      if (rc == -ENODATA) return Status::Corruption("backup object without metadata");
      if (rc < 0) return FromRados(rc, "get");
      Result<Meta> decoded = DecodeFullMeta(meta);
      if (!decoded.ok()) return decoded.status();
      if (data.length() != std::min(decoded->DataBytes(), kFirstReadBytes)) {
        return Status::Corruption("backup object length differs from its metadata");
      }
      BackupRecord record;
      record.info = decoded->Info();
      if (decoded->size <= data.length()) {
        record.blob = data.to_str().substr(0, decoded->size);
        return record;
      }
      Result<std::string> blob = ReadGuarded(impl_->io, name, meta, 0, decoded->size);
      if (!blob.ok() && blob.status().IsFailedPrecondition()) continue;  // replaced meanwhile
      if (!blob.ok()) return blob.status();
      record.blob = std::move(blob).value();
      return record;
    }
    return Status::IOError("get: the record kept changing while it was read");
  } catch (const std::exception& e) {
    return FromException("get", e);
  }
}

Result<std::vector<VersionInfo>> RadosBackupStore::ListVersions(const BackupId& key) {
  try {
    librados::bufferlist meta;
    int rc = impl_->io.getxattr(key.ToHex(), kMetaAttr, meta);
    if (rc == -ENODATA) return Status::Corruption("backup object without metadata");
    if (rc < 0) return FromRados(rc, "versions");
    Result<Meta> decoded = DecodeFullMeta(meta);
    if (!decoded.ok()) return decoded.status();
    return decoded->versions;
  } catch (const std::exception& e) {
    return FromException("versions", e);
  }
}

Result<BackupRecord> RadosBackupStore::GetVersion(const BackupId& key, uint32_t n) {
  try {
    const std::string name = key.ToHex();
    for (int attempt = 0; attempt < kPutAttempts; ++attempt) {
      librados::bufferlist meta;
      int rc = impl_->io.getxattr(name, kMetaAttr, meta);
      if (rc == -ENODATA) return Status::Corruption("backup object without metadata");
      if (rc < 0) return FromRados(rc, "version");
      Result<Meta> decoded = DecodeFullMeta(meta);
      if (!decoded.ok()) return decoded.status();
      if (n == 0 || n > decoded->versions.size()) return Status::NotFound("no such version");
      uint64_t offset = decoded->size;
      for (uint32_t i = 0; i + 1 < n; ++i) offset += decoded->versions[i].size;
      const VersionInfo& version = decoded->versions[n - 1];
      Result<std::string> blob = ReadGuarded(impl_->io, name, meta, offset, version.size);
      if (!blob.ok() && blob.status().IsFailedPrecondition()) continue;  // replaced meanwhile
      if (!blob.ok()) return blob.status();
      BackupRecord record;
      record.blob = std::move(blob).value();
      record.info.size = version.size;
      record.info.upload_day = version.upload_day;
      return record;
    }
    return Status::IOError("version: the record kept changing while it was read");
  } catch (const std::exception& e) {
    return FromException("version", e);
  }
}

Result<BackupInfo> RadosBackupStore::Stat(const BackupId& key) {
  try {
    librados::bufferlist meta;
    int rc = impl_->io.getxattr(key.ToHex(), kMetaAttr, meta);
    if (rc == -ENODATA) return Status::Corruption("backup object without metadata");
    if (rc < 0) return FromRados(rc, "stat");
    return DecodeMeta(meta);
  } catch (const std::exception& e) {
    return FromException("stat", e);
  }
}

Result<PutResult> RadosBackupStore::Put(const BackupId& key, std::string_view blob, Day upload_day,
                                        const PutOptions& options) {
  try {
    const std::string name = key.ToHex();
    // The index first: an entry without its object is harmless, an object without its entry
    // would never expire. The day's registration in "days" goes along, at once, unless this
    // store made it already.
    {
      const bool register_day = !impl_->DayRegistered(upload_day);
      librados::ObjectWriteOperation shard_op;
      shard_op.omap_set({{name, librados::bufferlist()}});
      librados::ObjectWriteOperation days_op;
      days_op.omap_set({{DayKey(upload_day), librados::bufferlist()}});
      AioBatch batch;
      batch.SubmitWrite(impl_->io, ShardObject(upload_day, name[0]), &shard_op);
      if (register_day) batch.SubmitWrite(impl_->io, kDaysObject, &days_op);
      batch.Wait();
      for (size_t i = 0; i < (register_day ? 2u : 1u); ++i) {
        if (batch.rc(i) < 0) return FromRados(batch.rc(i), "put: index");
      }
      if (register_day) impl_->RememberDay(upload_day);
    }
    Meta new_meta;
    new_meta.size = blob.size();
    new_meta.upload_day = upload_day;
    new_meta.tag = options.tag ? *options.tag : RandomTag();
    const PutResult created{PutOutcome::kCreated, new_meta.tag};
    const PutResult replaced{PutOutcome::kReplaced, new_meta.tag};
    librados::bufferlist data;
    data.append(blob.data(), blob.size());
    const bool plain =
        options.keep_versions == 0 && !options.if_match && !options.if_absent && !options.if_exists;
    for (int attempt = 0; attempt < kPutAttempts; ++attempt) {
      if (plain) {
        // The apps' upload, the common case: one round trip (write_full drops any versions).
        const librados::bufferlist meta = EncodeMeta(new_meta);
        librados::ObjectWriteOperation replace;
        replace.assert_exists();
        replace.write_full(data);
        replace.setxattr(kMetaAttr, meta);
        int rc = impl_->io.operate(name, &replace, kWriteFlags);
        if (rc == 0) return replaced;
        if (rc != -ENOENT) return FromRados(rc, "put");
      } else {
        // Read what is there (its blobs too when versions are kept), decide, then write guarded
        // by the metadata read: one atomic operation, refused if another put came in between.
        librados::bufferlist old_meta;
        librados::bufferlist old_data;
        int meta_rc = 0;
        int data_rc = 0;
        librados::ObjectReadOperation read;
        read.getxattr(kMetaAttr, &old_meta, &meta_rc);
        if (options.keep_versions > 0) read.read(0, 0, &old_data, &data_rc);
        int rc = impl_->io.operate(name, &read, nullptr);
        if (rc == -ENODATA) return Status::Corruption("backup object without metadata");
        if (rc < 0 && rc != -ENOENT) return FromRados(rc, "put");
        if (rc == 0) {
          Result<Meta> old = DecodeFullMeta(old_meta);
          if (!old.ok()) return old.status();
          if (options.if_absent) return Status::FailedPrecondition("the backup exists");
          if (options.if_match && old->tag != *options.if_match) {
            return Status::FailedPrecondition("the backup has changed");
          }
          Meta meta = new_meta;
          librados::bufferlist new_data = data;
          if (options.keep_versions > 0) {
            if (old_data.length() != old->DataBytes()) {
              return Status::Corruption("backup object length differs from its metadata");
            }
            std::vector<VersionInfo> all{VersionInfo{old->size, old->upload_day, upload_day}};
            all.insert(all.end(), old->versions.begin(), old->versions.end());
            // Not the expired ones (see PutOptions::expired_before): a prefix of `all`.
            size_t alive = old->upload_day < options.expired_before ? 0 : 1;
            while (alive > 0 && alive < all.size() &&
                   all[alive].replaced_day >= options.expired_before) {
              ++alive;
            }
            const size_t keep =
                std::min<size_t>(std::min(options.keep_versions, kMaxVersions), alive);
            uint64_t kept_bytes = 0;
            for (size_t i = 0; i < keep; ++i) kept_bytes += all[i].size;
            meta.versions.assign(all.begin(), all.begin() + keep);
            // The kept blobs are a prefix of the old data: the old current, then its versions.
            librados::bufferlist kept;
            kept.substr_of(old_data, 0, kept_bytes);
            new_data.claim_append(kept);
          }
          librados::ObjectWriteOperation replace;
          replace.cmpxattr(kMetaAttr, LIBRADOS_CMPXATTR_OP_EQ, old_meta);
          replace.write_full(new_data);
          replace.setxattr(kMetaAttr, EncodeMeta(meta));
          rc = impl_->io.operate(name, &replace, kWriteFlags);
          if (rc == 0) return replaced;
          if (rc == -ECANCELED || rc == -ENOENT) continue;  // changed meanwhile: decide again
          return FromRados(rc, "put");
        }
        if (options.if_match || options.if_exists) {
          return Status::NotFound("put: no backup under this key");
        }
      }
      // Absent: create it, unless a concurrent put created it first.
      librados::ObjectWriteOperation create;
      create.create(true);
      create.write_full(data);
      create.setxattr(kMetaAttr, EncodeMeta(new_meta));
      int rc = impl_->io.operate(name, &create, kWriteFlags);
      if (rc == 0) return created;
      if (rc != -EEXIST) return FromRados(rc, "put");
    }
    return Status::IOError("put: the record kept being created and deleted concurrently");
  } catch (const std::exception& e) {
    return FromException("put", e);
  }
}

Status RadosBackupStore::Delete(const BackupId& key) {
  try {
    librados::ObjectWriteOperation op;
    op.remove();
    int rc = impl_->io.operate(key.ToHex(), &op, kWriteFlags);
    if (rc < 0) return FromRados(rc, "delete");
    return Status::OK();
  } catch (const std::exception& e) {
    return FromException("delete", e);
  }
}

Status RadosBackupStore::Scan(
    const std::function<void(const BackupId&, const BackupInfo&)>& visit) {
  try {
    Result<std::vector<Day>> days = impl_->ReadDays();
    if (!days.ok()) return days.status();
    Status error;
    for (Day day : *days) {
      for (int shard = 0; shard < kIndexShards; ++shard) {
        const std::string oid = ShardObject(day, shard);
        std::string after;
        for (;;) {
          Result<KeyPage> page = impl_->ReadKeys(oid, after);
          if (!page.ok()) {
            if (!page.status().IsNotFound() && error.ok()) error = page.status();
            break;
          }
          std::vector<int> rcs;
          std::vector<librados::bufferlist> metas;
          impl_->ReadMetas(page->keys, &rcs, &metas);
          for (size_t i = 0; i < page->keys.size(); ++i) {
            if (rcs[i] == -ENOENT) continue;  // deleted: a stale entry
            if (rcs[i] < 0) {
              if (error.ok()) error = FromRados(rcs[i], "scan: metadata read");
              continue;
            }
            Result<BackupInfo> info = DecodeMeta(metas[i]);
            if (!info.ok()) {
              if (error.ok()) error = info.status();
              continue;
            }
            if (info->upload_day != day) continue;  // re-uploaded on another day: visited there
            Result<BackupId> id = BackupId::Parse(page->keys[i]);
            if (!id.ok()) {
              if (error.ok()) error = Status::Corruption("the day index holds a malformed entry");
              continue;
            }
            visit(*id, *info);
          }
          if (!page->more || page->keys.empty()) break;
          after = page->keys.back();
        }
      }
    }
    return error;
  } catch (const std::exception& e) {
    return FromException("scan", e);
  }
}

Result<uint64_t> RadosBackupStore::DeleteUploadedBefore(Day cutoff_day) {
  try {
    Result<std::vector<Day>> days = impl_->ReadDays();
    if (!days.ok()) return days.status();
    uint64_t deleted = 0;
    Status error;
    for (Day day : *days) {
      if (day >= cutoff_day) break;  // ascending
      bool day_gone = true;
      for (int shard = 0; shard < kIndexShards; ++shard) {
        Result<bool> gone = impl_->SweepShard(day, shard, cutoff_day, &deleted);
        if (!gone.ok()) {
          if (error.ok()) error = gone.status();
          day_gone = false;
        } else if (!*gone) {
          day_gone = false;
        }
      }
      if (!day_gone) continue;
      impl_->ForgetDay(day);
      librados::ObjectWriteOperation op;
      op.omap_rm_keys({DayKey(day)});
      int rc = impl_->io.operate(kDaysObject, &op, kWriteFlags);
      if (rc < 0 && rc != -ENOENT && error.ok()) error = FromRados(rc, "sweep: day index");
    }
    if (!error.ok()) return error;
    return deleted;
  } catch (const std::exception& e) {
    return FromException("sweep", e);
  }
}

Result<std::string> RadosBackupStore::GetOrCreateValue(const std::string& name,
                                                       std::string_view value) {
  if (name.empty() ||
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos) {
    return Status::InvalidArgument("rados: a value's name must be made of [a-z0-9-]");
  }
  try {
    const std::string oid = kValueObjectPrefix + name;
    librados::bufferlist data;
    data.append(value.data(), value.size());
    librados::ObjectWriteOperation create;
    create.create(true);
    create.write_full(data);
    int rc = impl_->io.operate(oid, &create, kWriteFlags);
    if (rc == 0) return std::string(value);
    if (rc != -EEXIST) return FromRados(rc, "value " + name);
    librados::bufferlist stored;
    rc = impl_->io.read(oid, stored, 0, 0);
    if (rc < 0) return FromRados(rc, "value " + name);
    return stored.to_str();
  } catch (const std::exception& e) {
    return FromException("value " + name, e);
  }
}

Result<RadosStats> RadosBackupStore::Stats() {
  try {
    std::list<std::string> pools{impl_->pool};
    librados::stats_map pool_stats;
    int rc = impl_->rados.get_pool_stats(pools, pool_stats);
    if (rc < 0) return FromRados(rc, "stats: pool");
    librados::cluster_stat_t cluster{};
    rc = impl_->rados.cluster_stat(cluster);
    if (rc < 0) return FromRados(rc, "stats: cluster");
    RadosStats stats;
    auto it = pool_stats.find(impl_->pool);
    if (it != pool_stats.end()) {
      stats.pool_objects = it->second.num_objects;
      stats.pool_bytes = it->second.num_user_bytes;
    }
    stats.cluster_bytes_used = cluster.kb_used * 1024;
    stats.cluster_bytes_avail = cluster.kb_avail * 1024;
    return stats;
  } catch (const std::exception& e) {
    return FromException("stats", e);
  }
}

}  // namespace safe::storage
