#include "storage/access_store.h"

#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/options.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace safe::storage {

// ---- MemoryAccessStore ----

Status MemoryAccessStore::MarkSpent(const AccessHash& token_hash, Day expiry_day) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!spent_.emplace(token_hash, expiry_day).second) {
    return Status::AlreadyExists("the token was redeemed before");
  }
  return Status::OK();
}

Status MemoryAccessStore::PutCredential(const AccessHash& user_hash,
                                        const AccessCredentialRecord& record) {
  std::lock_guard<std::mutex> lock(mu_);
  credentials_[user_hash] = record;
  return Status::OK();
}

Result<AccessCredentialRecord> MemoryAccessStore::GetCredential(const AccessHash& user_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = credentials_.find(user_hash);
  if (it == credentials_.end()) return Status::NotFound("no such credential");
  return it->second;
}

Status MemoryAccessStore::DeleteCredential(const AccessHash& user_hash) {
  std::lock_guard<std::mutex> lock(mu_);
  if (credentials_.erase(user_hash) == 0) return Status::NotFound("no such credential");
  return Status::OK();
}

Result<uint64_t> MemoryAccessStore::DeleteExpired(Day today) {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t deleted = 0;
  for (auto it = spent_.begin(); it != spent_.end();) {
    if (it->second < today) {
      it = spent_.erase(it);
      ++deleted;
    } else {
      ++it;
    }
  }
  for (auto it = credentials_.begin(); it != credentials_.end();) {
    if (it->second.expiry_day < today) {
      it = credentials_.erase(it);
      ++deleted;
    } else {
      ++it;
    }
  }
  return deleted;
}

size_t MemoryAccessStore::spent_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return spent_.size();
}

size_t MemoryAccessStore::credential_count() {
  std::lock_guard<std::mutex> lock(mu_);
  return credentials_.size();
}

// ---- RocksDbAccessStore ----

namespace {

constexpr char kSpentTag = 's';
constexpr char kCredentialTag = 'c';
constexpr size_t kDayBytes = 4;

// The translation of rocksdb::Status for this store. RocksDB's text is kept for I/O errors only
// (it names files); a corruption message may quote a key and is dropped.
Status AccessStatusFrom(const rocksdb::Status& s, const char* what) {
  if (s.ok()) return Status::OK();
  std::string prefix = std::string("access store: ") + what;
  if (s.IsNotFound()) return Status::NotFound(prefix + ": not found");
  if (s.IsNoSpace() || (s.IsIOError() && s.subcode() == rocksdb::Status::kSpaceLimit)) {
    return Status::NoSpace(prefix + ": no space left");
  }
  if (s.IsCorruption()) return Status::Corruption(prefix + ": stored data failed a check");
  if (s.IsIOError()) return Status::IOError(prefix + ": " + s.ToString());
  return Status::IOError(prefix + ": RocksDB error code " + std::to_string(s.code()));
}

std::string KeyOf(char tag, const AccessHash& hash) {
  std::string key(1, tag);
  key.append(reinterpret_cast<const char*>(hash.data()), hash.size());
  return key;
}

void PutDay(std::string* out, Day day) {
  uint32_t u = static_cast<uint32_t>(day);
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}

Day GetDay(const char* p) {
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return static_cast<Day>(u);
}

// RocksDB's informational LOG file would keep timestamps of every flush: dropped, as the main
// store does (docs/privacy.md).
class QuietLogger final : public rocksdb::Logger {
 public:
  QuietLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::HEADER_LEVEL) {}
  using rocksdb::Logger::Logv;
  void Logv(const char*, va_list) override {}
};

}  // namespace

struct RocksDbAccessStore::Impl {
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions synced;
  std::mutex spend_mu;  // MarkSpent's read-then-write is one step
};

RocksDbAccessStore::RocksDbAccessStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RocksDbAccessStore::~RocksDbAccessStore() {
  if (impl_ && impl_->db) {
    rocksdb::Status closed = impl_->db->Close();
    (void)closed;  // deliberately ignored: every write was synced when it returned
  }
}

Result<std::unique_ptr<RocksDbAccessStore>> RocksDbAccessStore::Open(const std::string& path) {
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    int error = errno;
    return Status::IOError("access store: cannot create " + path + ": " + std::strerror(error));
  }
  rocksdb::Options options;
  options.create_if_missing = true;
  options.info_log = std::make_shared<QuietLogger>();
  options.keep_log_file_num = 1;
  options.max_open_files = 32;  // a few small files: few descriptors beside the main store
  options.write_buffer_size = 1 << 20;
  options.paranoid_checks = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return AccessStatusFrom(s, "open");
  auto impl = std::make_unique<Impl>();
  impl->db.reset(raw);
  impl->synced.sync = true;
  return std::unique_ptr<RocksDbAccessStore>(new RocksDbAccessStore(std::move(impl)));
}

Status RocksDbAccessStore::Checkpoint(const std::string& out_dir) {
  if (out_dir.empty()) return Status::InvalidArgument("access store: no checkpoint directory");
  std::error_code ec;
  // RocksDB wants an absolute path that does not exist yet.
  const std::filesystem::path out = std::filesystem::absolute(out_dir, ec);
  if (ec) return Status::IOError("access store: cannot resolve " + out_dir);
  if (std::filesystem::exists(std::filesystem::symlink_status(out, ec))) {
    return Status::InvalidArgument("access store: " + out.string() + " already exists");
  }
  rocksdb::Checkpoint* raw = nullptr;
  Status made = AccessStatusFrom(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpoint");
  if (!made.ok()) return made;
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  rocksdb::Status s = checkpoint->CreateCheckpoint(out.string(), /*log_size_for_flush=*/0);
  if (!s.ok()) {
    return Status::IOError("access store: writing a checkpoint to " + out.string() + ": " +
                           s.ToString());
  }
  return Status::OK();
}

Status RocksDbAccessStore::MarkSpent(const AccessHash& token_hash, Day expiry_day) {
  const std::string key = KeyOf(kSpentTag, token_hash);
  std::lock_guard<std::mutex> lock(impl_->spend_mu);
  std::string existing;
  rocksdb::Status got = impl_->db->Get(rocksdb::ReadOptions(), key, &existing);
  if (got.ok()) return Status::AlreadyExists("the token was redeemed before");
  if (!got.IsNotFound()) return AccessStatusFrom(got, "read");
  std::string value;
  PutDay(&value, expiry_day);
  return AccessStatusFrom(impl_->db->Put(impl_->synced, key, value), "write");
}

Status RocksDbAccessStore::PutCredential(const AccessHash& user_hash,
                                         const AccessCredentialRecord& record) {
  std::string value;
  PutDay(&value, record.expiry_day);
  value.append(reinterpret_cast<const char*>(record.secret_hash.data()), record.secret_hash.size());
  return AccessStatusFrom(impl_->db->Put(impl_->synced, KeyOf(kCredentialTag, user_hash), value),
                          "write");
}

Result<AccessCredentialRecord> RocksDbAccessStore::GetCredential(const AccessHash& user_hash) {
  std::string value;
  rocksdb::Status s =
      impl_->db->Get(rocksdb::ReadOptions(), KeyOf(kCredentialTag, user_hash), &value);
  if (s.IsNotFound()) return Status::NotFound("no such credential");
  if (!s.ok()) return AccessStatusFrom(s, "read");
  AccessCredentialRecord record;
  if (value.size() != kDayBytes + record.secret_hash.size()) {
    return Status::Corruption("access store: a credential record has a wrong length");
  }
  record.expiry_day = GetDay(value.data());
  std::memcpy(record.secret_hash.data(), value.data() + kDayBytes, record.secret_hash.size());
  return record;
}

Status RocksDbAccessStore::DeleteCredential(const AccessHash& user_hash) {
  const std::string key = KeyOf(kCredentialTag, user_hash);
  std::string value;
  rocksdb::Status got = impl_->db->Get(rocksdb::ReadOptions(), key, &value);
  if (got.IsNotFound()) return Status::NotFound("no such credential");
  if (!got.ok()) return AccessStatusFrom(got, "read");
  return AccessStatusFrom(impl_->db->Delete(impl_->synced, key), "delete");
}

Result<uint64_t> RocksDbAccessStore::DeleteExpired(Day today) {
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions()));
  rocksdb::WriteBatch batch;
  uint64_t deleted = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rocksdb::Slice value = it->value();
    if (value.size() < kDayBytes) {
      return Status::Corruption("access store: a record has a wrong length");
    }
    if (GetDay(value.data()) < today) {
      Status s = AccessStatusFrom(batch.Delete(it->key()), "delete");
      if (!s.ok()) return s;
      ++deleted;
    }
  }
  Status iterated = AccessStatusFrom(it->status(), "scan");
  if (!iterated.ok()) return iterated;
  if (deleted == 0) return deleted;
  Status written = AccessStatusFrom(impl_->db->Write(impl_->synced, &batch), "delete");
  if (!written.ok()) return written;
  return deleted;
}

}  // namespace safe::storage
