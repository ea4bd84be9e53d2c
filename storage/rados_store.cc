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

librados::bufferlist EncodeMeta(uint64_t size, Day day) {
  char out[kMetaBytes];
  out[0] = static_cast<char>(kMetaVersion);
  for (int i = 0; i < 8; ++i) out[1 + i] = static_cast<char>((size >> (8 * i)) & 0xff);
  uint32_t d;
  std::memcpy(&d, &day, sizeof(d));
  for (int i = 0; i < 4; ++i) out[9 + i] = static_cast<char>((d >> (8 * i)) & 0xff);
  librados::bufferlist bl;
  bl.append(out, sizeof(out));
  return bl;
}

Result<BackupInfo> DecodeMeta(const librados::bufferlist& bl) {
  if (bl.length() != kMetaBytes) return Status::Corruption("backup metadata has an unknown format");
  std::string value = bl.to_str();
  if (static_cast<uint8_t>(value[0]) != kMetaVersion) {
    return Status::Corruption("backup metadata has an unknown format");
  }
  BackupInfo info;
  for (int i = 0; i < 8; ++i) {
    info.size |= static_cast<uint64_t>(static_cast<uint8_t>(value[1 + i])) << (8 * i);
  }
  uint32_t d = 0;
  for (int i = 0; i < 4; ++i)
    d |= static_cast<uint32_t>(static_cast<uint8_t>(value[9 + i])) << (8 * i);
  std::memcpy(&info.upload_day, &d, sizeof(d));
  return info;
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
          Result<BackupInfo> info = DecodeMeta(metas[i]);
          if (!info.ok()) {
            if (error.ok()) error = info.status();
            continue;
          }
          if (info->upload_day >= cutoff) continue;  // re-uploaded since: a stale entry
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

Result<BackupRecord> RadosBackupStore::Get(const BackupId& key) {
  try {
    librados::bufferlist data;
    librados::bufferlist meta;
    int data_rc = 0;
    int meta_rc = 0;
    librados::ObjectReadOperation op;
    op.read(0, 0, &data, &data_rc);  // length 0: the whole object
    op.getxattr(kMetaAttr, &meta, &meta_rc);
    int rc = impl_->io.operate(key.ToHex(), &op, nullptr);
    if (rc == -ENODATA) return Status::Corruption("backup object without metadata");
    if (rc < 0) return FromRados(rc, "get");
    Result<BackupInfo> info = DecodeMeta(meta);
    if (!info.ok()) return info.status();
    if (data.length() != info->size) {
      return Status::Corruption("backup object length differs from its metadata");
    }
    BackupRecord record;
    record.blob = data.to_str();
    record.info = *info;
    return record;
  } catch (const std::exception& e) {
    return FromException("get", e);
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

Result<PutOutcome> RadosBackupStore::Put(const BackupId& key, std::string_view blob,
                                         Day upload_day) {
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
    librados::bufferlist data;
    data.append(blob.data(), blob.size());
    const librados::bufferlist meta = EncodeMeta(blob.size(), upload_day);
    for (int attempt = 0; attempt < kPutAttempts; ++attempt) {
      // A re-upload, the common case: one round trip.
      librados::ObjectWriteOperation replace;
      replace.assert_exists();
      replace.write_full(data);
      replace.setxattr(kMetaAttr, meta);
      int rc = impl_->io.operate(name, &replace, kWriteFlags);
      if (rc == 0) return PutOutcome::kReplaced;
      if (rc != -ENOENT) return FromRados(rc, "put");
      // Absent: create it, unless a concurrent put created it first.
      librados::ObjectWriteOperation create;
      create.create(true);
      create.write_full(data);
      create.setxattr(kMetaAttr, meta);
      rc = impl_->io.operate(name, &create, kWriteFlags);
      if (rc == 0) return PutOutcome::kCreated;
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
