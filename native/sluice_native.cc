// Sluice's native layer: sendfile(2) from segment files to sockets without blocking the event
// loop, and mmap with madvise/mlock/msync for the RocketMQ-style append mode, whose next segment
// is made ready on the libuv threadpool. Linux only; the JS side falls back to pread/write when
// this addon is missing.
#include <napi.h>
#include <uv.h>

#include <errno.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>

#include "crc32c.h"
#include "record_scan.h"

namespace {

// Yield to the loop after this many bytes: POLLOUT is level-triggered, so the transfer resumes
// on the next loop turn. 8 MiB kept loop lag at 3-5 ms in measurements; 1 MiB cost 40% more CPU.
constexpr size_t kPumpBudget = 8u << 20;

struct Transfer;

struct Instance {
  std::unordered_map<uint32_t, Transfer*> active;
};

struct Transfer {
  Napi::Env env;
  Instance* instance;
  uint32_t id;
  int sock;
  int dupfd = -1;
  int file;
  off_t offset;
  uint64_t left;
  uint64_t sent = 0;
  uv_poll_t poll;
  bool done = false;
  Napi::FunctionReference callback;
  std::unique_ptr<Napi::AsyncContext> context;

  Transfer(Napi::Env e, Instance* in, uint32_t i, int s, int f, off_t o, uint64_t l)
      : env(e), instance(in), id(i), sock(s), file(f), offset(o), left(l) {}
};

Napi::Error ErrnoError(Napi::Env env, int err, const char* what) {
  Napi::Error e = Napi::Error::New(env, std::string(what) + ": " + strerror(err));
  e.Set("code", Napi::String::New(env, uv_err_name(-err)));
  e.Set("errno", Napi::Number::New(env, -err));
  return e;
}

// A shared mapping as an external ArrayBuffer, unmapped when unmap() detaches it (never left to
// the garbage collector, which does not see mapped memory). For mappings JS reads in place (the
// indexes); V8 counts their length as external memory, which is why segments are Regions.
Napi::ArrayBuffer MappingBuffer(Napi::Env env, void* addr, size_t length) {
  size_t* hint = new size_t(length);
  return Napi::ArrayBuffer::New(
      env, addr, length,
      [](Napi::Env, void* data, size_t* len) {
        munmap(data, *len);
        delete len;
      },
      hint);
}

// A shared mapping that JS writes only through the addon (copyToRegion, zeroRegion) and reads
// through its file.
// Exposed as an ArrayBuffer, its length would count as V8 external memory, and each segment
// mapped (segment.bytes at a time, 1 GiB by default) would make V8 collect the whole heap on
// the event loop to give memory back, which it cannot: 150-250 ms with a 150 MB heap
// (docs/zero-copy.md, "Mappings and the garbage collector"). Unmapped by unmap(), or by the
// garbage collector should a handle be dropped without it.
struct Region {
  char* addr;
  size_t length;
};

Napi::External<Region> RegionHandle(Napi::Env env, void* addr, size_t length) {
  return Napi::External<Region>::New(env, new Region{static_cast<char*>(addr), length}, [](Napi::Env, Region* region) {
    if (region->addr != nullptr) munmap(region->addr, region->length);
    delete region;
  });
}

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

// How a prepared mapping is faulted in (bench/storage/mmap-warm.ts measures each). Appends want
// every page resident, writable and already dirty, so that a copy into it takes no fault.
enum class Warm { kWriteTouch, kPopulateWrite, kTouch, kMapPopulate, kNone };

bool ParseWarm(const std::string& name, Warm* warm) {
  if (name == "write-touch") *warm = Warm::kWriteTouch;
  else if (name == "populate-write") *warm = Warm::kPopulateWrite;
  else if (name == "touch") *warm = Warm::kTouch;
  else if (name == "map-populate") *warm = Warm::kMapPopulate;
  else if (name == "none") *warm = Warm::kNone;
  else return false;
  return true;
}

// Writes a zero to the first byte of every page from user space: a write fault per page.
void TouchPages(char* addr, size_t length) {
  for (size_t at = 0; at < length; at += PageSize()) static_cast<volatile char*>(addr)[at] = 0;
}

// The work of prepareSegment, on a threadpool thread: nothing here touches JS.
class PrepareWorker : public Napi::AsyncWorker {
 public:
  PrepareWorker(Napi::Function callback, std::string path, size_t length, Warm warm, bool lock)
      : Napi::AsyncWorker(callback, "sluice.prepareSegment"), path_(std::move(path)), length_(length), warm_(warm), lock_(lock) {}

  void Execute() override {
    int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return Fail(errno, "open");
    // Blocks reserved first: a page of a sparse file first touched through a mapping on a full
    // disk raises SIGBUS; here the disk answers ENOSPC instead.
    int err = posix_fallocate(fd, 0, static_cast<off_t>(length_));
    if (err != 0) {
      close(fd);
      return Fail(err, "fallocate");
    }
    // Zeros written first put the pages in the page cache at write(2)'s speed; touching them
    // through the mapping then only maps them, where a fault on a hole also allocates and zeroes.
    if (warm_ == Warm::kWriteTouch && !WriteZeros(fd)) {
      int writeErr = errno;
      close(fd);
      return Fail(writeErr, "write");
    }
    int flags = MAP_SHARED | (warm_ == Warm::kMapPopulate ? MAP_POPULATE : 0);
    void* addr = mmap(nullptr, length_, PROT_READ | PROT_WRITE, flags, fd, 0);
    int mapErr = errno;
    // The mapping holds the file: the prepared segment costs no descriptor while it waits.
    close(fd);
    if (addr == MAP_FAILED) return Fail(mapErr, "mmap");
    addr_ = static_cast<char*>(addr);
    madvise(addr_, length_, MADV_SEQUENTIAL);
    if (warm_ == Warm::kPopulateWrite && madvise(addr_, length_, MADV_POPULATE_WRITE) != 0) {
      // Kernels before 5.14 do not know the advice: fault the pages in by hand instead.
      if (errno != EINVAL) return Fail(errno, "madvise");
      TouchPages(addr_, length_);
    }
    if (warm_ == Warm::kTouch || warm_ == Warm::kWriteTouch) TouchPages(addr_, length_);
    if (lock_ && mlock(addr_, length_) != 0) return Fail(errno, "mlock");
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ != 0) {
      if (addr_ != nullptr) munmap(addr_, length_);
      Callback().Call({ErrnoError(env, err_, what_).Value(), env.Null()});
      return;
    }
    Callback().Call({env.Null(), RegionHandle(env, addr_, length_)});
  }

 private:
  bool WriteZeros(int fd) {
    static const std::string zeros(1u << 20, '\0');
    for (size_t at = 0; at < length_;) {
      ssize_t n = pwrite(fd, zeros.data(), std::min(zeros.size(), length_ - at), static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      at += static_cast<size_t>(n);
    }
    return true;
  }

  void Fail(int err, const char* what) {
    err_ = err;
    what_ = what;
  }

  std::string path_;
  size_t length_;
  Warm warm_;
  bool lock_;
  char* addr_ = nullptr;
  int err_ = 0;
  const char* what_ = "";
};

// 0: done; 1: the socket is full, wait for POLLOUT; <0: -errno.
int Pump(Transfer* t, int fd) {
  size_t budget = kPumpBudget;
  while (t->left > 0) {
    if (budget == 0) return 1;
    size_t want = static_cast<size_t>(std::min<uint64_t>(t->left, budget));
    ssize_t n = sendfile(fd, t->file, &t->offset, want);
    if (n > 0) {
      t->left -= n;
      t->sent += n;
      budget -= n;
      continue;
    }
    if (n == 0) return -ENODATA;  // the file is shorter than promised: a truncated segment
    if (errno == EINTR) continue;
    return errno == EAGAIN ? 1 : -errno;
  }
  return 0;
}

void Finish(Transfer* t, int err) {
  if (t->done) return;
  t->done = true;
  t->instance->active.erase(t->id);
  uv_poll_stop(&t->poll);
  {
    Napi::HandleScope scope(t->env);
    Napi::Value error = err == 0 ? t->env.Null() : ErrnoError(t->env, -err, "sendfile").Value();
    t->callback.MakeCallback(t->env.Global(), {error, Napi::Number::New(t->env, static_cast<double>(t->sent))},
                             *t->context);
    if (t->env.IsExceptionPending()) {
      napi_fatal_exception(t->env, t->env.GetAndClearPendingException().Value());
    }
  }
  // The dup is closed only once libuv has let go of the poll handle.
  uv_close(reinterpret_cast<uv_handle_t*>(&t->poll), [](uv_handle_t* h) {
    auto* done = static_cast<Transfer*>(h->data);
    close(done->dupfd);
    delete done;
  });
}

void OnWritable(uv_poll_t* handle, int status, int) {
  auto* t = static_cast<Transfer*>(handle->data);
  if (status < 0) {
    // libuv reports EPOLLERR as UV_EBADF: the socket knows the real reason.
    int soerr = 0;
    socklen_t len = sizeof soerr;
    getsockopt(t->dupfd, SOL_SOCKET, SO_ERROR, &soerr, &len);
    Finish(t, soerr != 0 ? -soerr : status);
    return;
  }
  int r = Pump(t, t->dupfd);
  if (r != 1) Finish(t, r);
}

class SluiceNative : public Napi::Addon<SluiceNative> {
 public:
  SluiceNative(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceMethod("sendfile", &SluiceNative::SendFile),
                             InstanceMethod("cancel", &SluiceNative::Cancel),
                             InstanceMethod("mmap", &SluiceNative::Mmap),
                             InstanceMethod("mapRegion", &SluiceNative::MapRegion),
                             InstanceMethod("unmap", &SluiceNative::Unmap),
                             InstanceMethod("copyToRegion", &SluiceNative::CopyToRegion),
                             InstanceMethod("zeroRegion", &SluiceNative::ZeroRegion),
                             InstanceMethod("madvise", &SluiceNative::Madvise),
                             InstanceMethod("mlock", &SluiceNative::Mlock),
                             InstanceMethod("msync", &SluiceNative::Msync),
                             InstanceMethod("fallocate", &SluiceNative::Fallocate),
                             InstanceMethod("seekHole", &SluiceNative::SeekHole),
                             InstanceMethod("seekData", &SluiceNative::SeekData),
                             InstanceMethod("prepareSegment", &SluiceNative::PrepareSegment),
                             InstanceMethod("keepFreedMemory", &SluiceNative::KeepFreedMemory),
                             InstanceMethod("skipPlainRecords", &SluiceNative::SkipRecords),
                             InstanceMethod("crc32cSupported", &SluiceNative::Crc32cIsSupported),
                             InstanceMethod("crc32c", &SluiceNative::Crc32cOf),
                         });
  }

 private:
  Instance instance_;

  // sendfile(id, socketFd, fileFd, offset, length, callback): the bytes sent when the transfer
  // finished at once, or null when it continues and `callback(err, sent)` will be called.
  Napi::Value SendFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 6 || !info[5].IsFunction()) {
      Napi::TypeError::New(env, "sendfile(id, socketFd, fileFd, offset, length, callback)").ThrowAsJavaScriptException();
      return env.Null();
    }
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    int sock = info[1].As<Napi::Number>().Int32Value();
    int file = info[2].As<Napi::Number>().Int32Value();
    int64_t offset = info[3].As<Napi::Number>().Int64Value();
    int64_t length = info[4].As<Napi::Number>().Int64Value();
    if (sock < 0 || file < 0 || offset < 0 || length < 0) {
      Napi::RangeError::New(env, "sendfile: negative descriptor, offset or length").ThrowAsJavaScriptException();
      return env.Null();
    }
    auto t = std::make_unique<Transfer>(env, &instance_, id, sock, file, offset, length);
    // The socket fd is valid for the duration of this call, so try to finish right here.
    int r = Pump(t.get(), sock);
    if (r < 0) {
      ErrnoError(env, -r, "sendfile").ThrowAsJavaScriptException();
      return env.Null();
    }
    if (r == 0) return Napi::Number::New(env, static_cast<double>(t->sent));
    // Our own descriptor: a distinct fd number gets its own epoll registration, never clashing
    // with libuv's watcher on the original, and cannot be recycled under us when Node closes it.
    t->dupfd = fcntl(sock, F_DUPFD_CLOEXEC, 0);
    if (t->dupfd < 0) {
      ErrnoError(env, errno, "dup").ThrowAsJavaScriptException();
      return env.Null();
    }
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    int pr = uv_poll_init(loop, &t->poll, t->dupfd);
    if (pr != 0) {
      close(t->dupfd);
      ErrnoError(env, -pr, "uv_poll_init").ThrowAsJavaScriptException();
      return env.Null();
    }
    t->poll.data = t.get();
    t->callback = Napi::Persistent(info[5].As<Napi::Function>());
    t->context = std::make_unique<Napi::AsyncContext>(env, "sluice.sendfile");
    uv_poll_start(&t->poll, UV_WRITABLE, OnWritable);
    instance_.active[id] = t.get();
    t.release();
    return env.Null();
  }

  // cancel(id): ends a pending transfer; its callback gets ECANCELED. Called on socket close.
  Napi::Value Cancel(const Napi::CallbackInfo& info) {
    uint32_t id = info[0].As<Napi::Number>().Uint32Value();
    auto it = instance_.active.find(id);
    if (it != instance_.active.end()) Finish(it->second, UV_ECANCELED);
    return info.Env().Undefined();
  }

  // The shared mapping mmap and mapRegion make of info's (fd, length, writable); null after
  // throwing.
  static void* MapFile(const Napi::CallbackInfo& info, size_t* length) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    int64_t n = info[1].As<Napi::Number>().Int64Value();
    bool writable = info[2].ToBoolean().Value();
    if (n <= 0) {
      Napi::RangeError::New(env, "mmap: length must be positive").ThrowAsJavaScriptException();
      return nullptr;
    }
    int prot = PROT_READ | (writable ? PROT_WRITE : 0);
    void* addr = mmap(nullptr, static_cast<size_t>(n), prot, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
      ErrnoError(env, errno, "mmap").ThrowAsJavaScriptException();
      return nullptr;
    }
    *length = static_cast<size_t>(n);
    return addr;
  }

  // mmap(fd, length, writable): a shared mapping of the file as an ArrayBuffer (see MappingBuffer).
  Napi::Value Mmap(const Napi::CallbackInfo& info) {
    size_t length;
    void* addr = MapFile(info, &length);
    if (addr == nullptr) return info.Env().Null();
    return MappingBuffer(info.Env(), addr, length);
  }

  // mapRegion(fd, length, writable): the same mapping as a Region handle.
  Napi::Value MapRegion(const Napi::CallbackInfo& info) {
    size_t length;
    void* addr = MapFile(info, &length);
    if (addr == nullptr) return info.Env().Null();
    return RegionHandle(info.Env(), addr, length);
  }

  // unmap(mapping): an ArrayBuffer is detached (its finalizer unmaps it), a Region unmapped.
  Napi::Value Unmap(const Napi::CallbackInfo& info) {
    if (info[0].IsExternal()) {
      Region* region = info[0].As<Napi::External<Region>>().Data();
      if (region->addr != nullptr) munmap(region->addr, region->length);
      region->addr = nullptr;
    } else {
      Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
      if (!ab.IsDetached()) ab.Detach();
    }
    return info.Env().Undefined();
  }

  // The bytes of a mapping, ArrayBuffer or Region; false (after throwing) when it is unmapped.
  static bool Mapped(const Napi::CallbackInfo& info, char** base, size_t* size) {
    if (info[0].IsExternal()) {
      Region* region = info[0].As<Napi::External<Region>>().Data();
      *base = region->addr;
      *size = region->length;
    } else {
      Napi::ArrayBuffer ab = info[0].As<Napi::ArrayBuffer>();
      *base = ab.IsDetached() ? nullptr : static_cast<char*>(ab.Data());
      *size = ab.ByteLength();
    }
    if (*base != nullptr) return true;
    Napi::RangeError::New(info.Env(), "the mapping is unmapped").ThrowAsJavaScriptException();
    return false;
  }

  // [offset, offset+length) of a mapping of `size` bytes, or false after throwing.
  static bool Within(Napi::Env env, size_t size, int64_t offset, int64_t length) {
    if (offset >= 0 && length >= 0 && static_cast<size_t>(offset) <= size && static_cast<size_t>(length) <= size - static_cast<size_t>(offset)) return true;
    Napi::RangeError::New(env, "span outside the mapping").ThrowAsJavaScriptException();
    return false;
  }

  // The span [offset, offset+length) of a mapping, page-aligned as the kernel requires.
  static bool Span(const Napi::CallbackInfo& info, char** start, size_t* len) {
    char* base;
    size_t size;
    if (!Mapped(info, &base, &size)) return false;
    int64_t off = info.Length() > 1 ? info[1].As<Napi::Number>().Int64Value() : 0;
    int64_t n = info.Length() > 2 ? info[2].As<Napi::Number>().Int64Value() : static_cast<int64_t>(size) - off;
    if (!Within(info.Env(), size, off, n)) return false;
    size_t page = PageSize();
    size_t aligned = static_cast<size_t>(off) - (static_cast<size_t>(off) % page);
    *start = base + aligned;
    *len = static_cast<size_t>(n) + (static_cast<size_t>(off) - aligned);
    return true;
  }

  // Where length bytes at info[1]'s offset begin in info[0]'s mapping; null after throwing.
  static char* At(const Napi::CallbackInfo& info, int64_t length) {
    char* base;
    size_t size;
    if (!Mapped(info, &base, &size)) return nullptr;
    int64_t offset = info[1].As<Napi::Number>().Int64Value();
    return Within(info.Env(), size, offset, length) ? base + offset : nullptr;
  }

  // copyToRegion(region, offset, src): copies all of src into the mapping at offset. The first
  // kOrderedHead bytes are stored one at a time, in order, before the rest: memcpy may store a
  // copy's first bytes last, and a process killed mid-copy must leave either a prefix of that
  // head or all of it, never later bytes without it (recovery reads the head to tell a torn
  // record batch from the zeros past the data, and leaves those zeros in place).
  static constexpr size_t kOrderedHead = 16;
  Napi::Value CopyToRegion(const Napi::CallbackInfo& info) {
    Napi::Uint8Array src = info[2].As<Napi::Uint8Array>();
    size_t length = src.ByteLength();
    char* at = At(info, static_cast<int64_t>(length));
    if (at == nullptr) return info.Env().Undefined();
    const uint8_t* from = src.Data();
    size_t head = std::min(length, kOrderedHead);
    volatile char* to = at;
    for (size_t i = 0; i < head; i++) to[i] = static_cast<char>(from[i]);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (length > head) memcpy(at + head, from + head, length - head);
    return info.Env().Undefined();
  }

  // zeroRegion(region, offset, length): writes zeros over the span.
  Napi::Value ZeroRegion(const Napi::CallbackInfo& info) {
    int64_t length = info[2].As<Napi::Number>().Int64Value();
    char* at = At(info, length);
    if (at != nullptr) memset(at, 0, static_cast<size_t>(length));
    return info.Env().Undefined();
  }

  // madvise(ab, offset, length, advice): advice is "willneed", "sequential", "random" or "dontneed".
  Napi::Value Madvise(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    char* start;
    size_t len;
    if (!Span(info, &start, &len)) return env.Null();
    std::string name = info[3].As<Napi::String>().Utf8Value();
    int advice = name == "willneed"     ? MADV_WILLNEED
                 : name == "sequential" ? MADV_SEQUENTIAL
                 : name == "random"     ? MADV_RANDOM
                 : name == "dontneed"   ? MADV_DONTNEED
                                        : -1;
    if (advice < 0) {
      Napi::TypeError::New(env, "unknown madvise advice " + name).ThrowAsJavaScriptException();
      return env.Null();
    }
    if (madvise(start, len, advice) != 0) ErrnoError(env, errno, "madvise").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // mlock(ab, offset, length, lock): pins or unpins pages; fails without CAP_IPC_LOCK beyond RLIMIT_MEMLOCK.
  Napi::Value Mlock(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    char* start;
    size_t len;
    if (!Span(info, &start, &len)) return env.Null();
    bool lock = info[3].ToBoolean().Value();
    if ((lock ? mlock(start, len) : munlock(start, len)) != 0) {
      ErrnoError(env, errno, lock ? "mlock" : "munlock").ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  // msync(ab, offset, length): writes dirty pages of the span to disk before returning.
  Napi::Value Msync(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    char* start;
    size_t len;
    if (!Span(info, &start, &len)) return env.Null();
    if (msync(start, len, MS_SYNC) != 0) ErrnoError(env, errno, "msync").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // fallocate(fd, offset, length): reserves the blocks of a span, so a full disk answers ENOSPC
  // here instead of raising SIGBUS later when a mapping first touches a page of a sparse file.
  Napi::Value Fallocate(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    int64_t offset = info[1].As<Napi::Number>().Int64Value();
    int64_t length = info[2].As<Napi::Number>().Int64Value();
    if (fd < 0 || offset < 0 || length <= 0) {
      Napi::RangeError::New(env, "fallocate: bad descriptor, offset or length").ThrowAsJavaScriptException();
      return env.Null();
    }
    int err = posix_fallocate(fd, offset, length);
    if (err != 0) ErrnoError(env, err, "fallocate").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  // seekHole(fd, offset): where the first hole at or after offset starts; the file's length
  // where it has none (or the filesystem does not tell).
  Napi::Value SeekHole(const Napi::CallbackInfo& info) { return Seek(info, SEEK_HOLE, "seekHole"); }

  // seekData(fd, offset): where the first data at or after offset starts; -1 when only holes
  // follow (lseek's ENXIO).
  Napi::Value SeekData(const Napi::CallbackInfo& info) { return Seek(info, SEEK_DATA, "seekData"); }

  static Napi::Value Seek(const Napi::CallbackInfo& info, int whence, const char* name) {
    Napi::Env env = info.Env();
    int fd = info[0].As<Napi::Number>().Int32Value();
    int64_t offset = info[1].As<Napi::Number>().Int64Value();
    if (fd < 0 || offset < 0) {
      Napi::RangeError::New(env, std::string(name) + ": bad descriptor or offset").ThrowAsJavaScriptException();
      return env.Null();
    }
    off_t found = lseek(fd, static_cast<off_t>(offset), whence);
    if (found < 0) {
      if (whence == SEEK_DATA && errno == ENXIO) return Napi::Number::New(env, -1);
      ErrnoError(env, errno, "lseek").ThrowAsJavaScriptException();
      return env.Null();
    }
    return Napi::Number::New(env, static_cast<double>(found));
  }

  // skipPlainRecords(buf, pos, end, index, count, minRecordBody, minHeaderSize, out): see
  // record_scan.h; writes the index and position reached and whether headers were seen to out,
  // a Float64Array of 3 (returning them would cost an object per call).
  Napi::Value SkipRecords(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 8 || !info[0].IsTypedArray() || !info[7].IsTypedArray()) {
      Napi::TypeError::New(env, "skipPlainRecords(buf, pos, end, index, count, minRecordBody, minHeaderSize, out)").ThrowAsJavaScriptException();
      return env.Null();
    }
    Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
    Napi::Float64Array out = info[7].As<Napi::Float64Array>();
    int64_t pos = info[1].As<Napi::Number>().Int64Value();
    int64_t end = info[2].As<Napi::Number>().Int64Value();
    if (pos < 0 || end < pos || end > static_cast<int64_t>(buf.ElementLength()) || out.ElementLength() < 3) {
      Napi::RangeError::New(env, "skipPlainRecords: span outside the buffer").ThrowAsJavaScriptException();
      return env.Null();
    }
    RecordScan scan = SkipPlainRecords(buf.Data(), pos, end, info[3].As<Napi::Number>().Int64Value(),
                                       info[4].As<Napi::Number>().Int64Value(), info[5].As<Napi::Number>().Int64Value(),
                                       info[6].As<Napi::Number>().Int64Value());
    out[0] = static_cast<double>(scan.index);
    out[1] = static_cast<double>(scan.pos);
    out[2] = scan.headersSeen ? 1 : 0;
    return env.Undefined();
  }

  Napi::Value Crc32cIsSupported(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), Crc32cSupported()); }

  // crc32c(buf): the unsigned CRC32C of a Uint8Array (a Buffer or a view of one). Only called
  // once crc32cSupported() said yes.
  Napi::Value Crc32cOf(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsTypedArray()) {
      Napi::TypeError::New(env, "crc32c(buf)").ThrowAsJavaScriptException();
      return env.Null();
    }
    Napi::Uint8Array buf = info[0].As<Napi::Uint8Array>();
    return Napi::Number::New(env, Crc32c(0, buf.Data(), buf.ByteLength()));
  }

  // keepFreedMemory(mmapThreshold, trimThreshold): true when glibc's malloc took both settings;
  // false where the C library is another, which keeps its own ways.
  Napi::Value KeepFreedMemory(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
      Napi::TypeError::New(env, "keepFreedMemory(mmapThreshold, trimThreshold)").ThrowAsJavaScriptException();
      return env.Null();
    }
#ifdef __GLIBC__
    bool set = mallopt(M_MMAP_THRESHOLD, info[0].As<Napi::Number>().Int32Value()) == 1 &&
               mallopt(M_TRIM_THRESHOLD, info[1].As<Napi::Number>().Int32Value()) == 1;
    return Napi::Boolean::New(env, set);
#else
    return Napi::Boolean::New(env, false);
#endif
  }

  // prepareSegment(path, length, warm, mlock, callback): creates the file at `path` (or opens
  // it), reserves and maps `length` bytes, faults them in as `warm` says and pins them when
  // `mlock` is set, all on the threadpool; then callback(err, mapping). On failure nothing is
  // left mapped; the file stays for the caller to remove.
  Napi::Value PrepareSegment(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Warm warm;
    if (info.Length() < 5 || !info[0].IsString() || !info[2].IsString() || !info[4].IsFunction() ||
        !ParseWarm(info[2].As<Napi::String>().Utf8Value(), &warm)) {
      Napi::TypeError::New(env, "prepareSegment(path, length, warm, mlock, callback)").ThrowAsJavaScriptException();
      return env.Null();
    }
    int64_t length = info[1].As<Napi::Number>().Int64Value();
    if (length <= 0) {
      Napi::RangeError::New(env, "prepareSegment: length must be positive").ThrowAsJavaScriptException();
      return env.Null();
    }
    auto* worker = new PrepareWorker(info[4].As<Napi::Function>(), info[0].As<Napi::String>().Utf8Value(),
                                     static_cast<size_t>(length), warm, info[3].ToBoolean().Value());
    worker->Queue();
    return env.Undefined();
  }
};

}  // namespace

NODE_API_ADDON(SluiceNative)
