#include "storage/rados_access_store.h"

#include <rados/librados.hpp>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <system_error>

namespace safe::storage {

namespace {

constexpr int kWriteFlags = librados::OPERATION_FULL_TRY;
constexpr char kDaysObject[] = "exp-days";
constexpr size_t kDayBytes = 4;

Status AccessFromRados(int rc, const char* what) {
  std::string text = std::string("access store: ") + what + ": " +
                     std::error_code(-rc, std::generic_category()).message();
  if (rc == -ENOENT) return Status::NotFound(text);
  if (rc == -ENOSPC || rc == -EDQUOT) return Status::NoSpace(text);
  return Status::IOError(text);
}

std::string Hex(const AccessHash& hash) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : hash) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::string DayKey(Day day) {
  char buf[16];
  snprintf(buf, sizeof buf, "%08x", static_cast<uint32_t>(day) ^ 0x80000000u);
  return buf;
}

bool ParseDayKey(const std::string& key, Day* day) {
  if (key.size() != 8) return false;
  uint32_t u = 0;
  for (char c : key) {
    int v = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
    if (v < 0) return false;
    u = (u << 4) | static_cast<uint32_t>(v);
  }
  *day = static_cast<Day>(u ^ 0x80000000u);
  return true;
}

void AppendDay(librados::bufferlist* bl, Day day) {
  uint32_t u = static_cast<uint32_t>(day);
  char bytes[kDayBytes];
  for (size_t i = 0; i < kDayBytes; ++i) bytes[i] = static_cast<char>((u >> (8 * i)) & 0xff);
  bl->append(bytes, kDayBytes);
}

Day ReadDay(const char* p) {
  uint32_t u = 0;
  for (size_t i = 0; i < kDayBytes; ++i) {
    u |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  }
  return static_cast<Day>(u);
}

}  // namespace

struct RadosAccessStore::Impl {
  librados::Rados rados;
  librados::IoCtx io;
  std::mutex mu;
  std::set<Day> registered_days;  // GUARDED_BY(mu): days this store put into exp-days

  // Adds `name` to the index of `day` (and the day to exp-days once per store).
  Status Index(const std::string& name, Day day) {
    const std::string key = DayKey(day);
    int rc = io.omap_set("exp-" + key, {{name, librados::bufferlist()}});
    if (rc < 0) return AccessFromRados(rc, "index");
    {
      std::lock_guard<std::mutex> lock(mu);
      if (registered_days.count(day) > 0) return Status::OK();
    }
    rc = io.omap_set(kDaysObject, {{key, librados::bufferlist()}});
    if (rc < 0) return AccessFromRados(rc, "index");
    std::lock_guard<std::mutex> lock(mu);
    registered_days.insert(day);
    return Status::OK();
  }
};

RadosAccessStore::RadosAccessStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RadosAccessStore::~RadosAccessStore() {
  if (impl_) {
    impl_->io.close();
    impl_->rados.shutdown();
  }
}

Result<std::unique_ptr<RadosAccessStore>> RadosAccessStore::Open(const RadosOptions& options) {
  if (options.conf_path.empty()) return Status::InvalidArgument("rados: conf_path is empty");
  if (options.pool.empty()) return Status::InvalidArgument("rados: pool is empty");
  try {
    auto impl = std::make_unique<Impl>();
    const std::string name = "client." + options.user;
    int rc = impl->rados.init2(name.c_str(), "ceph", 0);
    if (rc < 0) return AccessFromRados(rc, "cannot initialise the RADOS client");
    rc = impl->rados.conf_read_file(options.conf_path.c_str());
    if (rc < 0) return AccessFromRados(rc, "cannot read the RADOS configuration");
    if (!options.keyring.empty()) {
      rc = impl->rados.conf_set("keyring", options.keyring.c_str());
      if (rc < 0) return AccessFromRados(rc, "cannot use the keyring");
    }
    const std::string op_timeout = std::to_string(options.op_timeout_seconds);
    rc = impl->rados.conf_set("rados_osd_op_timeout", op_timeout.c_str());
    if (rc < 0) return AccessFromRados(rc, "cannot set rados_osd_op_timeout");
    rc = impl->rados.connect();
    if (rc < 0) return AccessFromRados(rc, "cannot connect to the cluster");
    rc = impl->rados.ioctx_create(options.pool.c_str(), impl->io);
    if (rc < 0) return AccessFromRados(rc, "cannot open the pool");
    impl->io.set_namespace(options.name_space + "access");
    return std::unique_ptr<RadosAccessStore>(new RadosAccessStore(std::move(impl)));
  } catch (const std::exception& e) {
    return Status::IOError(std::string("access store: librados failed: ") + e.what());
  }
}

Status RadosAccessStore::MarkSpent(const AccessHash& token_hash, Day expiry_day) {
  try {
    const std::string name = "spent-" + Hex(token_hash);
    Status indexed = impl_->Index(name, expiry_day);
    if (!indexed.ok()) return indexed;
    librados::bufferlist data;
    AppendDay(&data, expiry_day);
    librados::ObjectWriteOperation op;
    op.create(true);
    op.write_full(data);
    int rc = impl_->io.operate(name, &op, kWriteFlags);
    if (rc == -EEXIST) return Status::AlreadyExists("the token was redeemed before");
    if (rc < 0) return AccessFromRados(rc, "spend");
    return Status::OK();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("access store: librados failed: ") + e.what());
  }
}

Status RadosAccessStore::PutCredential(const AccessHash& user_hash,
                                       const AccessCredentialRecord& record) {
  try {
    const std::string name = "cred-" + Hex(user_hash);
    Status indexed = impl_->Index(name, record.expiry_day);
    if (!indexed.ok()) return indexed;
    librados::bufferlist data;
    AppendDay(&data, record.expiry_day);
    data.append(reinterpret_cast<const char*>(record.secret_hash.data()),
                record.secret_hash.size());
    librados::ObjectWriteOperation op;
    op.write_full(data);
    int rc = impl_->io.operate(name, &op, kWriteFlags);
    if (rc < 0) return AccessFromRados(rc, "write credential");
    return Status::OK();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("access store: librados failed: ") + e.what());
  }
}

Result<AccessCredentialRecord> RadosAccessStore::GetCredential(const AccessHash& user_hash) {
  try {
    librados::bufferlist data;
    int rc = impl_->io.read("cred-" + Hex(user_hash), data, 0, 0);
    if (rc == -ENOENT) return Status::NotFound("no such credential");
    if (rc < 0) return AccessFromRados(rc, "read credential");
    AccessCredentialRecord record;
    if (data.length() != kDayBytes + record.secret_hash.size()) {
      return Status::Corruption("access store: a credential record has a wrong length");
    }
    std::string bytes = data.to_str();
    record.expiry_day = ReadDay(bytes.data());
    std::memcpy(record.secret_hash.data(), bytes.data() + kDayBytes, record.secret_hash.size());
    return record;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("access store: librados failed: ") + e.what());
  }
}

Status RadosAccessStore::DeleteCredential(const AccessHash& user_hash) {
  try {
    int rc = impl_->io.remove("cred-" + Hex(user_hash));
    if (rc == -ENOENT) return Status::NotFound("no such credential");
    if (rc < 0) return AccessFromRados(rc, "delete credential");
    return Status::OK();
  } catch (const std::exception& e) {
    return Status::IOError(std::string("access store: librados failed: ") + e.what());
  }
}

Result<uint64_t> RadosAccessStore::DeleteExpired(Day today) {
  try {
    uint64_t deleted = 0;
    std::set<std::string> day_keys;
    bool more = true;
    std::string after;
    while (more) {
      std::set<std::string> page;
      int rc = impl_->io.omap_get_keys2(kDaysObject, after, 1000, &page, &more);
      if (rc == -ENOENT) break;
      if (rc < 0) return AccessFromRados(rc, "read the index");
      if (page.empty()) break;
      after = *page.rbegin();
      day_keys.insert(page.begin(), page.end());
    }
    for (const std::string& key : day_keys) {
      Day day = 0;
      if (!ParseDayKey(key, &day) || day >= today) continue;
      const std::string index = "exp-" + key;
      std::string after_name;
      bool more_names = true;
      while (more_names) {
        std::set<std::string> names;
        int rc = impl_->io.omap_get_keys2(index, after_name, 1000, &names, &more_names);
        if (rc == -ENOENT) break;
        if (rc < 0) return AccessFromRados(rc, "read the index");
        if (names.empty()) break;
        after_name = *names.rbegin();
        for (const std::string& name : names) {
          rc = impl_->io.remove(name);
          if (rc == 0) ++deleted;
          if (rc < 0 && rc != -ENOENT) return AccessFromRados(rc, "delete");
        }
      }
      int rc = impl_->io.remove(index);
      if (rc < 0 && rc != -ENOENT) return AccessFromRados(rc, "delete the index");
      rc = impl_->io.omap_rm_keys(kDaysObject, {key});
      if (rc < 0 && rc != -ENOENT) return AccessFromRados(rc, "delete the index");
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->registered_days.erase(day);
    }
    return deleted;
  } catch (const std::exception& e) {
    return Status::IOError(std::string("access store: librados failed: ") + e.what());
  }
}

}  // namespace safe::storage
