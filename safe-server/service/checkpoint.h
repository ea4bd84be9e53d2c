// MakeCheckpoint: a consistent hot copy of a running RocksDB store, for POST /admin/checkpoint.
//
// The copy goes into a new directory `<parent>/checkpoint-<UTC time>` with the KEYCHECK file
// beside the database (without it a sealed server refuses the restored directory) and, when the
// server keeps access credentials (issue 18), a copy of DATA_DIR/access in `access/`, so that a
// restored checkpoint keeps its spent tokens and credentials. Whatever the
// process's umask, the parent (when made here), the copy and everything in it are readable by
// the owner only: directories 0700, files 0600. The copy is made inside a 0700 staging
// directory and moved into place only then, so no one else can open it meanwhile. On the data
// directory's file system the copy hard-links its files, so the live files get mode 0600 too (the
// owner is the server itself).
//
// Thread-safety: one call at a time per store (AdminApp allows one at a time).

#pragma once

#include <string>

#include "common/status.h"
#include "storage/access_store.h"
#include "storage/rocksdb_store.h"

namespace safe::server {

// Returns the new directory. IOError (naming the path, never a key or id) when it cannot be made.
// `access` (may be null) is the access store in DATA_DIR/access.
Result<std::string> MakeCheckpoint(storage::RocksDbStore& engine, const std::string& data_dir,
                                   const std::string& parent,
                                   storage::RocksDbAccessStore* access = nullptr);

// Sets directories under (and including) `root` to 0700 and files to 0600.
Status RestrictToOwner(const std::string& root);

}  // namespace safe::server
