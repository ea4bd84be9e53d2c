// sealed_store_bench: what sealing costs, and which AEAD is faster on this machine.
//
// Not a test: run it by hand (`build/bin/sealed_store_bench`). It measures seal followed by open
// of one blob (the bytes/s figure is of blob bytes) for
//   - XChaCha20-Poly1305-IETF (libsodium), random 192-bit nonce;
//   - AES-256-GCM (OpenSSL EVP), a per-record key BLAKE2b(k2, 32-byte salt), fixed nonce: the
//     format SealedStore writes;
// and the end-to-end cost per PUT and GET: SealedStore over a MemoryStore against the bare
// MemoryStore. The figures chosen from are written at the top of sealed_store.cc.

#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "common/secret.h"
#include "storage/memory_store.h"
#include "storage/sealed_store.h"

namespace {

std::string RandomBlob(size_t size) {
  std::string blob(size, '\0');
  randombytes_buf(blob.data(), blob.size());
  return blob;
}

void BM_XChaCha20Poly1305SealOpen(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const std::string blob = RandomBlob(size);
  uint8_t key[crypto_aead_xchacha20poly1305_ietf_KEYBYTES];
  randombytes_buf(key, sizeof(key));
  const uint8_t aad[33] = {2};
  constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
  constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
  // Buffers outside the loop: the figure is the cipher's, not the allocator's.
  std::string record(1 + kNonce + size + kTag, '\0');
  std::string opened(size, '\0');
  for (auto _ : state) {
    auto* r = reinterpret_cast<uint8_t*>(record.data());
    r[0] = 2;
    randombytes_buf(r + 1, kNonce);
    unsigned long long sealed_len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(r + 1 + kNonce, &sealed_len,
                                               reinterpret_cast<const uint8_t*>(blob.data()), size,
                                               aad, sizeof(aad), nullptr, r + 1, key);
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(reinterpret_cast<uint8_t*>(opened.data()),
                                                   nullptr, nullptr, r + 1 + kNonce, sealed_len,
                                                   aad, sizeof(aad), r + 1, key) != 0) {
      state.SkipWithError("open failed");
    }
    benchmark::DoNotOptimize(opened.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

void BM_Aes256GcmPerRecordKeySealOpen(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const std::string blob = RandomBlob(size);
  uint8_t k2[32];
  randombytes_buf(k2, sizeof(k2));
  const uint8_t aad[33] = {1};
  const uint8_t nonce[12] = {};
  EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  std::string record(1 + 32 + size + 16, '\0');
  std::string opened(size, '\0');
  for (auto _ : state) {
    auto* r = reinterpret_cast<uint8_t*>(record.data());
    r[0] = 1;
    randombytes_buf(r + 1, 32);
    uint8_t record_key[32];
    crypto_generichash(record_key, 32, r + 1, 32, k2, sizeof(k2));
    int len = 0;
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, cipher, nullptr, record_key, nonce);
    EVP_EncryptUpdate(ctx, nullptr, &len, aad, sizeof(aad));
    EVP_EncryptUpdate(ctx, r + 33, &len, reinterpret_cast<const uint8_t*>(blob.data()),
                      static_cast<int>(size));
    EVP_EncryptFinal_ex(ctx, r + 33 + size, &len);
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, r + 33 + size);
    EVP_CIPHER_CTX_free(ctx);

    crypto_generichash(record_key, 32, r + 1, 32, k2, sizeof(k2));
    ctx = EVP_CIPHER_CTX_new();
    EVP_DecryptInit_ex(ctx, cipher, nullptr, record_key, nonce);
    EVP_DecryptUpdate(ctx, nullptr, &len, aad, sizeof(aad));
    EVP_DecryptUpdate(ctx, reinterpret_cast<uint8_t*>(opened.data()), &len, r + 33,
                      static_cast<int>(size));
    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, r + 33 + size);
    if (EVP_DecryptFinal_ex(ctx, reinterpret_cast<uint8_t*>(opened.data()) + size, &len) != 1) {
      state.SkipWithError("open failed");
    }
    EVP_CIPHER_CTX_free(ctx);
    safe::Wipe(record_key, sizeof(record_key));
    benchmark::DoNotOptimize(opened.data());
  }
  EVP_CIPHER_free(cipher);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

safe::BackupId BenchId() {
  safe::BackupId::Bytes bytes;
  randombytes_buf(bytes.data(), bytes.size());
  return safe::BackupId::FromBytes(bytes);
}

// One PUT then one GET of the same id: the bare store (what sealing is compared against).
void BM_MemoryStorePutGet(benchmark::State& state) {
  const std::string blob = RandomBlob(static_cast<size_t>(state.range(0)));
  safe::storage::MemoryStore store;
  const safe::BackupId id = BenchId();
  for (auto _ : state) {
    if (!store.Put(id, blob, 1).ok() || !store.Get(id).ok()) state.SkipWithError("failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * blob.size()));
}

// The same through SealedStore: storage key, seal, store; read, open.
void BM_SealedStorePutGet(benchmark::State& state) {
  const std::string blob = RandomBlob(static_cast<size_t>(state.range(0)));
  safe::storage::SealedStore store(safe::storage::ServerKey::Random(),
                                   std::make_unique<safe::storage::MemoryStore>());
  const safe::BackupId id = BenchId();
  for (auto _ : state) {
    if (!store.Put(id, blob, 1).ok() || !store.Get(id).ok()) state.SkipWithError("failed");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * blob.size()));
}

void BM_StorageKey(benchmark::State& state) {
  safe::storage::MemoryStore inner;
  safe::storage::SealedStore store(safe::storage::ServerKey::Random(), inner);
  const safe::BackupId id = BenchId();
  for (auto _ : state) benchmark::DoNotOptimize(store.StorageKeyFor(id));
}

BENCHMARK(BM_XChaCha20Poly1305SealOpen)->Arg(64 << 10)->Arg(512 << 10);
BENCHMARK(BM_Aes256GcmPerRecordKeySealOpen)->Arg(64 << 10)->Arg(512 << 10);
BENCHMARK(BM_MemoryStorePutGet)->Arg(1 << 10)->Arg(64 << 10)->Arg(512 << 10);
BENCHMARK(BM_SealedStorePutGet)->Arg(1 << 10)->Arg(64 << 10)->Arg(512 << 10);
BENCHMARK(BM_StorageKey);

}  // namespace

int main(int argc, char** argv) {
  safe::EnsureSodiumInitialised();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
