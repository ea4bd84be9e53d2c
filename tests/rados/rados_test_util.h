// Helpers of the RADOS tests: where the test cluster is, a fresh namespace per store, raw
// librados access to look at (and clean up) what a store wrote, and the cluster script.
//
// The cluster: CTest's "rados" fixture starts it with scripts/ceph-cluster and sets
// SAFE_RADOS_CONF to its ceph.conf (the client keyring is named there); SAFE_RADOS_POOL names the
// pool ("safe" by default). Without SAFE_RADOS_CONF every test of a binary that includes this
// header is skipped, with the reason printed once (the global environment below).
//
// Thread-safety: RawPool is used by one thread at a time; the functions are safe to call from
// any thread.

#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <rados/librados.hpp>

#include "storage/rados_store.h"
#include "tests/support/server_process.h"

namespace safe::storage::testing {

// The test cluster's ceph.conf, or "" when SAFE_RADOS_CONF is not set.
inline std::string RadosConf() {
  const char* conf = std::getenv("SAFE_RADOS_CONF");
  return conf != nullptr ? conf : "";
}

inline std::string RadosPool() {
  const char* pool = std::getenv("SAFE_RADOS_POOL");
  return pool != nullptr && pool[0] != '\0' ? pool : "safe";
}

// The directory of the cluster's state (scripts/ceph-cluster's CEPH_DIR): the conf's directory.
inline std::string CephDir() {
  std::string conf = RadosConf();
  size_t slash = conf.rfind('/');
  return slash == std::string::npos ? "." : conf.substr(0, slash);
}

// A namespace no other test uses, in this process or another.
inline std::string FreshNamespace() {
  static std::atomic<int> counter{0};
  return "test-" + std::to_string(getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

inline RadosOptions OptionsFor(const std::string& name_space) {
  RadosOptions options;
  options.conf_path = RadosConf();
  options.pool = RadosPool();
  options.name_space = name_space;
  return options;
}

// Opens a store on the test pool in name_space; nullptr after ADD_FAILURE when it cannot.
inline std::unique_ptr<RadosBackupStore> OpenOrFail(const std::string& name_space) {
  auto store = RadosBackupStore::Open(OptionsFor(name_space));
  if (!store.ok()) {
    ADD_FAILURE() << "RadosBackupStore::Open: " << store.status().ToString();
    return nullptr;
  }
  return std::move(store).value();
}

// A plain librados handle on the test pool, in one namespace: to check the layout a store wrote,
// to forge what a crash or a bug would leave, and to remove everything at the end.
class RawPool {
 public:
  explicit RawPool(const std::string& name_space) {
    ok_ = rados_.init2("client.admin", "ceph", 0) == 0 &&
          rados_.conf_read_file(RadosConf().c_str()) == 0 && rados_.connect() == 0 &&
          rados_.ioctx_create(RadosPool().c_str(), io_) == 0;
    if (ok_) io_.set_namespace(name_space);
  }
  ~RawPool() {
    io_.close();
    rados_.shutdown();
  }
  RawPool(const RawPool&) = delete;
  RawPool& operator=(const RawPool&) = delete;

  bool ok() const { return ok_; }
  librados::IoCtx& io() { return io_; }

  // Every object name in the namespace (a full listing: fine for a test's few objects).
  std::set<std::string> Objects() {
    std::set<std::string> names;
    for (auto it = io_.nobjects_begin(); it != io_.nobjects_end(); ++it)
      names.insert(it->get_oid());
    return names;
  }

  // The omap keys of oid (empty when it does not exist).
  std::set<std::string> OmapKeys(const std::string& oid) {
    std::set<std::string> all;
    std::string after;
    for (;;) {
      std::set<std::string> keys;
      if (io_.omap_get_keys2(oid, after, 1000, &keys, nullptr) < 0 || keys.empty()) break;
      all.insert(keys.begin(), keys.end());
      after = *keys.rbegin();
    }
    return all;
  }

  // Removes every object of the namespace (many at once: a suite test leaves thousands).
  void Purge() {
    std::vector<librados::AioCompletion*> in_flight;
    auto wait_all = [&] {
      for (librados::AioCompletion* c : in_flight) {
        c->wait_for_complete();
        c->release();
      }
      in_flight.clear();
    };
    for (const std::string& name : Objects()) {
      librados::AioCompletion* c = librados::Rados::aio_create_completion();
      if (io_.aio_remove(name, c) < 0) {
        c->release();
        continue;
      }
      in_flight.push_back(c);
      if (in_flight.size() == 256) wait_all();
    }
    wait_all();
  }

 private:
  librados::Rados rados_;
  librados::IoCtx io_;
  bool ok_ = false;
};

// Runs scripts/ceph-cluster (SAFE_CEPH_CLUSTER_SCRIPT) with CEPH_DIR set to the test cluster's
// directory: kill-osd ID, start-osd ID, wait-healthy [SECONDS]. Fails with what it printed.
inline ::testing::AssertionResult Cluster(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"env", "CEPH_DIR=" + CephDir(), SAFE_CEPH_CLUSTER_SCRIPT};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string out, err;
  int status = safe::testing::RunCommand(argv, "", &out, &err);
  if (status == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "ceph-cluster " << args[0] << " exited " << status << "\n"
                                       << out << err;
}

// Skips every test of the binary, saying why, when no cluster is configured.
class RadosEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (RadosConf().empty()) {
      GTEST_SKIP() << "SAFE_RADOS_CONF is not set: these tests need a Ceph cluster. Run them "
                      "through CTest (ctest -L rados), which starts one with "
                      "scripts/ceph-cluster, or set SAFE_RADOS_CONF to a cluster's ceph.conf.";
    }
  }
};

inline ::testing::Environment* const kRadosEnvironment =
    ::testing::AddGlobalTestEnvironment(new RadosEnvironment);

}  // namespace safe::storage::testing
