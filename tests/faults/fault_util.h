// Helpers for the fault tests (issue 4, "Faults"): a history of concurrent puts that decides
// what a crash may legitimately leave under each backup id, and a small tmpfs mounted for the
// length of a test (the disk-full test).
//
// PutHistory: every PUT is recorded with the logical times it was sent and answered (one counter
// under one mutex, so the order of those events is the real order in which the threads saw
// them). After a crash, a backup id may hold the blob of put P only if P was not definitely
// overwritten: no put acknowledged to its client had been SENT after P ended (P's answer
// arrived, or the server process died). It may be empty (404) only if no put to it was ever
// acknowledged. This is the linearizability rule for one register with a single final read; it
// is exact for ids that several threads overwrite concurrently, where "the last acknowledged
// blob" alone would be wrong (a put acknowledged later may have been applied earlier).
//
// TmpfsMount: mount(2) of a tmpfs of a given size on a fresh temporary directory (root only),
// unmounted (lazily when still busy) and removed by the destructor.
//
// Thread-safety: PutHistory may be used from any thread; TmpfsMount by one thread.

#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/server_process.h"

namespace safe::testing {

class PutHistory {
 public:
  using Ticket = size_t;

  // Records a put of blob to id that is about to be sent. Call before sending it.
  Ticket Begin(const std::string& id, std::string blob);
  // Its answer was a success (201 or 204): the blob is durable from now on.
  void Acknowledge(Ticket ticket);
  // Its answer was an error that stores nothing (e.g. 507): the put is forgotten.
  void Refuse(Ticket ticket);
  // Its outcome is unknown (the connection failed): it may or may not have been applied, up to
  // the next ServerStopped(). Also implied for every put neither acknowledged nor refused.
  void Abandon(Ticket ticket);
  // The server process is gone: no put still under way can take effect after this moment.
  void ServerStopped();

  // Every id written so far, in the order first written.
  std::vector<std::string> Ids() const;
  size_t acknowledged() const;
  size_t abandoned() const;

  // Success when `stored` (what GET answered for id: the blob, or nullopt for 404) is an outcome
  // the history allows; otherwise says what is wrong (lost, stale, or matching no blob written).
  ::testing::AssertionResult Check(const std::string& id,
                                   const std::optional<std::string>& stored) const;

 private:
  static constexpr uint64_t kNotEnded = std::numeric_limits<uint64_t>::max();
  enum class State { kSent, kAcknowledged, kRefused, kAbandoned };
  struct Put {
    std::string id;
    std::shared_ptr<const std::string> blob;
    uint64_t start = 0;
    uint64_t end = kNotEnded;
    State state = State::kSent;
  };

  mutable std::mutex mu_;
  uint64_t clock_ = 0;                                          // GUARDED_BY(mu_)
  std::vector<Put> puts_;                                       // GUARDED_BY(mu_)
  std::unordered_map<std::string, std::vector<Ticket>> by_id_;  // GUARDED_BY(mu_)
  std::vector<std::string> ids_;                                // GUARDED_BY(mu_)
  size_t acknowledged_ = 0;                                     // GUARDED_BY(mu_)
  size_t abandoned_ = 0;                                        // GUARDED_BY(mu_)
};

class TmpfsMount {
 public:
  // Mounts a tmpfs of size_bytes on a new temporary directory. On failure (not root, no
  // CAP_SYS_ADMIN, no tmpfs) mounted() is false and error() says why.
  explicit TmpfsMount(uint64_t size_bytes);
  // Unmounts (lazily if a file on it is still open) and removes the directory.
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  const std::string& path() const { return dir_.path(); }
  // Bytes still free on the mount (statvfs); 0 when it cannot tell.
  uint64_t FreeBytes() const;

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string error_;
};

}  // namespace safe::testing
