//! Zig binding of bitask, a crash-safe Bitcask key-value store, over the
//! installed C library (libbitask.so, header bitask.h).
//!
//! ```zig
//! var db = try bitask.DB.open("/var/lib/app/store", .{ .sync = .always });
//! defer db.close();
//! try db.put("key", "value");
//! const v = try db.get(allocator, "key"); // error.NotFound when absent
//! defer allocator.free(v);
//! ```
//!
//! A `DB` may be used from many threads at once; `close` must be the last
//! call on it. An `Iterator` belongs to one thread at a time and must be
//! `deinit`ed before its `DB` is closed.

const std = @import("std");
const Allocator = std.mem.Allocator;

/// The raw C API (bitask.h), for what this wrapper does not cover.
pub const c = @import("c");

/// Every failure of the library, one error per status code of bitask.h.
/// After a call fails, `lastErrorMessage` on the same thread tells the
/// details (which file, which offset, what the operating system said).
///
/// The names are the statuses', not those of std's file errors
/// (`error.FileNotFound`, `error.AccessDenied`, ...): each status is a class
/// of failures that std tells apart (`Permission` covers EACCES, EPERM and
/// EROFS, which std names AccessDenied, PermissionDenied and
/// ReadOnlyFileSystem; `NoSpace` covers ENOSPC and EDQUOT; `Exists` means
/// the directory holds a store, not that a file is in the way), so borrowing
/// one std name would misname some failures. The README lists the nearest
/// std errors.
pub const Error = error{
    /// The key is not in the store (`get`, `getInto`, `remove`).
    NotFound,
    /// `getInto`: the buffer is shorter than the value; nothing was copied.
    BufferTooSmall,
    /// An argument was rejected (an empty key, an option out of range, a
    /// path with a NUL byte); nothing was written.
    InvalidArgument,
    /// Another handle, in this process or another, holds the store's writer
    /// lock. Open read-only, or close the other writer.
    WriterLock,
    /// A write on a handle opened with `.read_only = true`.
    ReadOnly,
    /// The operating system failed an operation, or the handle stopped
    /// accepting writes after a failure it cannot undo (reopen the store).
    Io,
    /// Stored data failed its checksum or is malformed.
    Corruption,
    /// A key or value is longer than `max_key_len` / `max_value_len`.
    TooLarge,
    /// A bug inside the library.
    Internal,
    /// A file in the directory is not one the library can prove it wrote:
    /// a newer format version, a file of another program or of bitask 0.1.1
    /// under a store's file name, a file of another store. Nothing was
    /// changed on disk.
    Incompatible,
    /// A file or directory the call needs does not exist: a read-only open of
    /// a missing directory, a missing parent directory, a missing directory
    /// with `.create_if_missing = false`.
    NoSuchPath,
    /// The operating system refused access (EACCES, EPERM, EROFS).
    Permission,
    /// The store's path, or a component of it, is not a directory.
    NotADirectory,
    /// The file system is full or over quota (ENOSPC, EDQUOT). Nothing was
    /// written; the handle keeps working once space is freed.
    NoSpace,
    /// The directory already holds a store, and `open` was asked for a new
    /// one (`.error_if_exists = true`). Nothing was changed.
    Exists,
    /// The key already has a value (the status of `bitask_put_if_absent`;
    /// `putIfAbsent` reports it as false).
    KeyExists,
    /// The value is not the one expected (the status of
    /// `bitask_compare_and_set`; `compareAndSet` reports it as false).
    Mismatch,
};

/// Longest key accepted, in bytes. Keys are at least 1 byte long.
pub const max_key_len: usize = c.BITASK_MAX_KEY_LEN;
/// Longest value accepted, in bytes. An empty value is a value.
pub const max_value_len: usize = c.BITASK_MAX_VALUE_LEN;

/// The status codes of bitask.h, as numbers.
pub const Status = enum(c_int) {
    ok = 0,
    not_found = 1,
    buffer_too_small = 2,
    invalid_argument = 3,
    writer_lock = 4,
    read_only = 5,
    io = 6,
    corruption = 7,
    too_large = 8,
    internal = 9,
    incompatible = 10,
    no_such_path = 11,
    permission = 12,
    not_a_directory = 13,
    no_space = 14,
    exists = 15,
    key_exists = 16,
    mismatch = 17,
    _,

    /// The library's short description of the status.
    pub fn description(s: Status) []const u8 {
        return std.mem.span(c.bitask_strerror(@backingInt(s)));
    }
};

comptime {
    // The numbers above are the header's.
    std.debug.assert(c.BITASK_OK == @backingInt(Status.ok));
    std.debug.assert(c.BITASK_NOT_FOUND == @backingInt(Status.not_found));
    std.debug.assert(c.BITASK_BUFFER_TOO_SMALL == @backingInt(Status.buffer_too_small));
    std.debug.assert(c.BITASK_ERR_INVALID_ARGUMENT == @backingInt(Status.invalid_argument));
    std.debug.assert(c.BITASK_ERR_WRITER_LOCK == @backingInt(Status.writer_lock));
    std.debug.assert(c.BITASK_ERR_READ_ONLY == @backingInt(Status.read_only));
    std.debug.assert(c.BITASK_ERR_IO == @backingInt(Status.io));
    std.debug.assert(c.BITASK_ERR_CORRUPTION == @backingInt(Status.corruption));
    std.debug.assert(c.BITASK_ERR_TOO_LARGE == @backingInt(Status.too_large));
    std.debug.assert(c.BITASK_ERR_INTERNAL == @backingInt(Status.internal));
    std.debug.assert(c.BITASK_ERR_INCOMPATIBLE == @backingInt(Status.incompatible));
    std.debug.assert(c.BITASK_ERR_NO_SUCH_PATH == @backingInt(Status.no_such_path));
    std.debug.assert(c.BITASK_ERR_PERMISSION == @backingInt(Status.permission));
    std.debug.assert(c.BITASK_ERR_NOT_A_DIRECTORY == @backingInt(Status.not_a_directory));
    std.debug.assert(c.BITASK_ERR_NO_SPACE == @backingInt(Status.no_space));
    std.debug.assert(c.BITASK_ERR_EXISTS == @backingInt(Status.exists));
    std.debug.assert(c.BITASK_KEY_EXISTS == @backingInt(Status.key_exists));
    std.debug.assert(c.BITASK_MISMATCH == @backingInt(Status.mismatch));
}

/// Converts a status code into the error of this binding (void for OK).
pub fn check(status: anytype) Error!void {
    const s: Status = @fromBackingInt(@intCast(@as(c_int, @intCast(status))));
    return switch (s) {
        .ok => {},
        .not_found => error.NotFound,
        .buffer_too_small => error.BufferTooSmall,
        .invalid_argument => error.InvalidArgument,
        .writer_lock => error.WriterLock,
        .read_only => error.ReadOnly,
        .io => error.Io,
        .corruption => error.Corruption,
        .too_large => error.TooLarge,
        .internal => error.Internal,
        .incompatible => error.Incompatible,
        .no_such_path => error.NoSuchPath,
        .permission => error.Permission,
        .not_a_directory => error.NotADirectory,
        .no_space => error.NoSpace,
        .exists => error.Exists,
        .key_exists => error.KeyExists,
        .mismatch => error.Mismatch,
        _ => error.Internal,
    };
}

/// The status code of an error of this binding.
pub fn statusOf(err: Error) Status {
    return switch (err) {
        error.NotFound => .not_found,
        error.BufferTooSmall => .buffer_too_small,
        error.InvalidArgument => .invalid_argument,
        error.WriterLock => .writer_lock,
        error.ReadOnly => .read_only,
        error.Io => .io,
        error.Corruption => .corruption,
        error.TooLarge => .too_large,
        error.Internal => .internal,
        error.Incompatible => .incompatible,
        error.NoSuchPath => .no_such_path,
        error.Permission => .permission,
        error.NotADirectory => .not_a_directory,
        error.NoSpace => .no_space,
        error.Exists => .exists,
        error.KeyExists => .key_exists,
        error.Mismatch => .mismatch,
    };
}

/// The detailed message of the calling thread's last failed call, copied
/// into `buf` (truncated to fit). Call it on the thread that made the
/// failing call, before that thread makes another.
pub fn lastErrorMessage(buf: []u8) []const u8 {
    if (buf.len == 0) return buf[0..0];
    const n = c.bitask_last_error_message(buf.ptr, buf.len);
    return buf[0..@min(n, buf.len - 1)];
}

/// Like `lastErrorMessage`, in memory from `allocator` that the caller frees.
pub fn lastErrorMessageAlloc(allocator: Allocator) Allocator.Error![]u8 {
    while (true) {
        const n = c.bitask_last_error_message(null, 0);
        const buf = try allocator.alloc(u8, n + 1);
        const m = c.bitask_last_error_message(buf.ptr, buf.len);
        if (m <= n) {
            return allocator.realloc(buf, m) catch |e| {
                allocator.free(buf);
                return e;
            };
        }
        allocator.free(buf); // cannot happen on one thread; be safe anyway
    }
}

/// The version of the linked library, "MAJOR.MINOR.PATCH".
pub fn version() []const u8 {
    return std.mem.span(c.bitask_version());
}

/// When acknowledged writes reach stable storage.
pub const Sync = union(enum) {
    /// The operating system flushes when it likes: a write survives a crash
    /// of the process, not a power cut. The library's default.
    none,
    /// Every put and remove is on stable storage before it returns.
    always,
    /// A background thread flushes every so many milliseconds (at least 1).
    interval_ms: u32,
};

/// How to open a store; every field left out keeps the library's default.
pub const Options = struct {
    /// Size at which the active data file is sealed (default 4 MiB).
    max_file_size: ?u64 = null,
    sync: ?Sync = null,
    /// Open without the writer lock: reads only, beside one writer
    /// anywhere; `refresh` loads what the writer wrote since. A read-only
    /// open never creates anything: a missing directory is
    /// `error.NoSuchPath`.
    read_only: bool = false,
    /// Whether a writer's `open` creates the directory when it is missing.
    /// Only the last component of the path is created: a missing parent is
    /// `error.NoSuchPath`, so that a mistyped path does not grow a tree of
    /// directories. With false, a missing directory is `error.NoSuchPath`.
    create_if_missing: bool = true,
    /// Whether `open` fails with `error.Exists`, changing nothing, when the
    /// directory already holds a store: for a program that must start from
    /// an empty one.
    error_if_exists: bool = false,
    /// Whether a writer's handle merges on its own, on a background thread,
    /// once overwritten and removed records pass the triggers (see
    /// `needsMerge`). With false, space comes back only through `compact`.
    auto_merge: bool = true,
};

/// Why a file is in a merge (`MergeFile.reason`).
pub const MergeReason = enum(u32) {
    fragmented = c.BITASK_MERGE_FRAGMENTED,
    dead_bytes = c.BITASK_MERGE_DEAD_BYTES,
    small = c.BITASK_MERGE_SMALL,
    /// Older than a file worth merging: a merge takes the oldest files.
    older = c.BITASK_MERGE_OLDER,
    _,
};

/// Why no merge is due (`MergeReport.why_not`).
pub const NotDue = enum(u32) {
    due = c.BITASK_MERGE_DUE,
    no_sealed_files = c.BITASK_MERGE_NO_SEALED_FILES,
    below_triggers = c.BITASK_MERGE_BELOW_TRIGGERS,
    nothing_worth_merging = c.BITASK_MERGE_NOTHING_WORTH_MERGING,
    outside_window = c.BITASK_MERGE_OUTSIDE_WINDOW,
    no_space = c.BITASK_MERGE_NO_SPACE,
    read_only = c.BITASK_MERGE_READ_ONLY,
    _,
};

/// Whether an automatic merge is due and what it would take (`needsMerge`):
/// the C report as it is, its `files` holding the first `files_listed`.
pub const MergeReport = c.bitask_merge_report;

/// Figures about a store.
pub const Stats = struct {
    /// Live keys.
    key_count: u64,
    /// Bytes of records holding live values.
    live_bytes: u64,
    /// Bytes of overwritten or removed records, reclaimed by `compact`.
    dead_bytes: u64,
    /// Data files, sealed and active.
    data_files: u64,
    /// Bytes of data and hint files on disk.
    disk_bytes: u64,
    /// Bytes of torn records cut off when the store was opened.
    torn_bytes: u64,
};

/// A pointer to the bytes of `s` for C: NULL for an empty slice (with its
/// length 0 that is the library's empty value).
fn ptrOf(s: []const u8) ?[*]const u8 {
    return if (s.len == 0) null else s.ptr;
}

const PathBuf = [std.Io.Dir.max_path_bytes + 1]u8;

/// `path` NUL-terminated in `buf`; `error.InvalidArgument` when C cannot take it.
fn cPath(buf: *PathBuf, path: []const u8) Error![*:0]const u8 {
    if (path.len >= buf.len or std.mem.findScalar(u8, path, 0) != null) {
        // Not representable as a C path: no library call, so no message.
        return error.InvalidArgument;
    }
    @memcpy(buf[0..path.len], path);
    buf[path.len] = 0;
    return buf[0..path.len :0];
}

/// What `DB.checkpoint` did (see bitask_checkpoint_report in bitask.h).
pub const CheckpointReport = c.bitask_checkpoint_report;
/// What `DB.verify` or `verifyPath` found (see bitask_verify_report).
pub const VerifyReport = c.bitask_verify_report;
/// What `repair` did (see bitask_repair_report).
pub const RepairReport = c.bitask_repair_report;

/// Checks the store in the directory `path` as `DB.verify` does, without
/// opening it and without changing anything.
pub fn verifyPath(path: []const u8) Error!VerifyReport {
    var path_buf: PathBuf = undefined;
    var report: VerifyReport = undefined;
    try check(c.bitask_verify_path(try cPath(&path_buf, path), &report));
    return report;
}

/// Keeps every intact record of the damaged store in the directory `path`,
/// which no writer may have open (`error.WriterLock`); the originals of what
/// it rewrites go to bitask-quarantine inside the directory, never deleted.
pub fn repair(path: []const u8) Error!RepairReport {
    var path_buf: PathBuf = undefined;
    var report: RepairReport = undefined;
    try check(c.bitask_repair(try cPath(&path_buf, path), &report));
    return report;
}
/// A non-null pointer for an empty value: null means "absent".
const zero_byte: u8 = 0;

fn optionalPtr(v: ?[]const u8) ?[*]const u8 {
    const s = v orelse return null;
    return if (s.len == 0) @as([*]const u8, @ptrCast(&zero_byte)) else s.ptr;
}

/// What `DB.multiGet` found for one key.
pub const Found = union(enum) {
    value: []u8,
    not_found,
    buffer_too_small: usize,
};

/// Puts and removes that `DB.write` applies atomically. Not tied to a store;
/// one thread at a time. The bytes given are copied.
pub const Batch = struct {
    handle: *c.bitask_batch,

    pub fn init() Error!Batch {
        return .{ .handle = c.bitask_batch_new() orelse return error.Internal };
    }

    pub fn deinit(b: *Batch) void {
        c.bitask_batch_free(b.handle);
        b.* = undefined;
    }

    pub fn put(b: Batch, key: []const u8, value: []const u8) Error!void {
        try check(c.bitask_batch_put(b.handle, ptrOf(key), key.len, ptrOf(value), value.len));
    }

    /// Adds a put that expires at `at_ms` (milliseconds since the Unix epoch).
    pub fn putExpiringAt(b: Batch, key: []const u8, value: []const u8, at_ms: u64) Error!void {
        try check(c.bitask_batch_put_expiring_at(b.handle, ptrOf(key), key.len, ptrOf(value), value.len, at_ms));
    }

    /// Adds a removal; removing an absent key is no error in a batch.
    pub fn remove(b: Batch, key: []const u8) Error!void {
        try check(c.bitask_batch_remove(b.handle, ptrOf(key), key.len));
    }

    /// Removes every operation, keeping the memory.
    pub fn clear(b: Batch) void {
        check(c.bitask_batch_clear(b.handle)) catch unreachable;
    }
};

/// An open store.
pub const DB = struct {
    handle: *c.bitask,

    /// Opens the store in the directory `path`, creating the directory when
    /// it is missing (a writer's open with `.create_if_missing`, the default;
    /// only its last component). A path naming a regular file is
    /// `error.NotADirectory`. A directory that is not provably a store (files
    /// of another program, or of another store, under a store's file names)
    /// is `error.Incompatible`, and is left as it was.
    pub fn open(path: []const u8, options: Options) Error!DB {
        var path_buf: PathBuf = undefined;
        const cpath = try cPath(&path_buf, path);

        const opts = c.bitask_options_new() orelse return error.Internal;
        defer c.bitask_options_free(opts);
        if (options.max_file_size) |size| try check(c.bitask_options_set_max_file_size(opts, size));
        if (options.sync) |mode| switch (mode) {
            .none => try check(c.bitask_options_set_sync(opts, c.BITASK_SYNC_NONE)),
            .always => try check(c.bitask_options_set_sync(opts, c.BITASK_SYNC_ALWAYS)),
            .interval_ms => |ms| {
                try check(c.bitask_options_set_sync(opts, c.BITASK_SYNC_INTERVAL));
                try check(c.bitask_options_set_sync_interval_ms(opts, ms));
            },
        };
        try check(c.bitask_options_set_read_only(opts, options.read_only));
        try check(c.bitask_options_set_create_if_missing(opts, options.create_if_missing));
        try check(c.bitask_options_set_error_if_exists(opts, options.error_if_exists));
        try check(c.bitask_options_set_auto_merge(opts, options.auto_merge));

        var handle: ?*c.bitask = null;
        try check(c.bitask_open(cpath, opts, &handle));
        return .{ .handle = handle orelse return error.Internal };
    }

    /// Closes the store: trims and (unless the sync mode is none) syncs the
    /// active file, and releases the writer lock. Must be the last call on
    /// the handle, after every iterator is deinit'ed. A failure here cannot
    /// be reported: call `sync` first when it matters.
    pub fn close(db: *DB) void {
        c.bitask_close(db.handle);
        db.* = undefined;
    }

    /// Stores `value` under `key`, replacing any earlier value.
    pub fn put(db: DB, key: []const u8, value: []const u8) Error!void {
        try check(c.bitask_put(db.handle, ptrOf(key), key.len, ptrOf(value), value.len));
    }

    /// The value of `key`, in memory from `allocator` that the caller frees
    /// (a zero-length slice for an empty value); `error.NotFound` when absent.
    pub fn get(db: DB, allocator: Allocator, key: []const u8) (Error || Allocator.Error)![]u8 {
        var value: [*c]u8 = null;
        var len: usize = 0;
        try check(c.bitask_get(db.handle, ptrOf(key), key.len, &value, &len));
        defer c.bitask_free(value);
        return allocator.dupe(u8, value[0..len]);
    }

    /// Copies the value of `key` into `buf` and returns the filled part.
    /// `error.BufferTooSmall` (nothing copied) when it does not fit: `valueLen`
    /// tells the length to make room for.
    pub fn getInto(db: DB, key: []const u8, buf: []u8) Error![]u8 {
        var len: usize = 0;
        try check(c.bitask_get_into(db.handle, ptrOf(key), key.len, if (buf.len == 0) null else buf.ptr, buf.len, &len));
        return buf[0..len];
    }

    /// The length of the value of `key`; `error.NotFound` when absent.
    pub fn valueLen(db: DB, key: []const u8) Error!usize {
        var len: usize = 0;
        check(c.bitask_get_into(db.handle, ptrOf(key), key.len, null, 0, &len)) catch |err| switch (err) {
            error.BufferTooSmall => {},
            else => return err,
        };
        return len;
    }

    /// Whether `key` has a value.
    pub fn contains(db: DB, key: []const u8) Error!bool {
        check(c.bitask_contains(db.handle, ptrOf(key), key.len)) catch |err| switch (err) {
            error.NotFound => return false,
            else => return err,
        };
        return true;
    }

    /// Applies every operation of `batch` atomically: after any crash the
    /// store holds all of them or none, and readers never see part of them.
    pub fn write(db: DB, batch: Batch) Error!void {
        try check(c.bitask_write(db.handle, batch.handle, 0));
    }

    /// Stores `value` under `key` only when the key has no value; returns
    /// whether it did. Atomic against every other writer of the handle.
    pub fn putIfAbsent(db: DB, key: []const u8, value: []const u8) Error!bool {
        check(c.bitask_put_if_absent(db.handle, ptrOf(key), key.len, ptrOf(value), value.len)) catch |err| switch (err) {
            error.KeyExists => return false,
            else => return err,
        };
        return true;
    }

    /// Stores `value` under `key` (null: removes the key) when its value is
    /// `expected` (null: when it is absent); returns whether it did. Atomic
    /// against every other writer of the handle.
    pub fn compareAndSet(db: DB, key: []const u8, expected: ?[]const u8, value: ?[]const u8) Error!bool {
        const e = optionalPtr(expected);
        const v = optionalPtr(value);
        const el = if (expected) |x| x.len else 0;
        const vl = if (value) |x| x.len else 0;
        check(c.bitask_compare_and_set(db.handle, ptrOf(key), key.len, e, el, v, vl)) catch |err| switch (err) {
            error.Mismatch => return false,
            else => return err,
        };
        return true;
    }

    /// Reads `keys` at once, as of one moment (a batch is seen whole or not
    /// at all), the values copied back to back into `buf`: `out[i]` receives
    /// `.value` (a slice of `buf`), `.not_found`, or `.buffer_too_small`
    /// with the value's length (no room left in `buf` for it). `allocator`
    /// holds the packed keys and the per-key arrays during the call.
    pub fn multiGet(db: DB, allocator: Allocator, keys: []const []const u8, buf: []u8, out: []Found) (Error || Allocator.Error)!void {
        std.debug.assert(out.len == keys.len);
        if (keys.len == 0) return;
        var total: usize = 0;
        for (keys) |k| total += k.len;
        const packed_keys = try allocator.alloc(u8, total);
        defer allocator.free(packed_keys);
        const ints = try allocator.alloc(usize, 3 * keys.len);
        defer allocator.free(ints);
        const statuses = try allocator.alloc(c.bitask_status, keys.len);
        defer allocator.free(statuses);
        const key_lens = ints[0..keys.len];
        const offsets = ints[keys.len .. 2 * keys.len];
        const lens = ints[2 * keys.len ..];
        var at: usize = 0;
        for (keys, key_lens) |k, *l| {
            @memcpy(packed_keys[at..][0..k.len], k);
            l.* = k.len;
            at += k.len;
        }
        try check(c.bitask_multi_get(db.handle, keys.len, packed_keys.ptr, key_lens.ptr, if (buf.len == 0) null else buf.ptr, buf.len, offsets.ptr, lens.ptr, statuses.ptr));
        for (out, statuses, offsets, lens) |*o, st, off, len| {
            o.* = if (check(st)) |_|
                .{ .value = buf[off..][0..len] }
            else |err| switch (err) {
                error.NotFound => .not_found,
                error.BufferTooSmall => .{ .buffer_too_small = len },
                else => return err,
            };
        }
    }

    /// Removes `key`; `error.NotFound` (nothing written) when it is absent.
    pub fn remove(db: DB, key: []const u8) Error!void {
        try check(c.bitask_remove(db.handle, ptrOf(key), key.len));
    }

    /// Stores `value` under `key`, as `put` does, expiring `ttl_ms`
    /// milliseconds from now: from then on the key is absent to every read,
    /// iteration and `stats` included, and the next `compact` drops its
    /// record. A `ttl_ms` of 0 stores a key that is absent at once.
    pub fn putTtl(db: DB, key: []const u8, value: []const u8, ttl_ms: u64) Error!void {
        try check(c.bitask_put_ttl(db.handle, ptrOf(key), key.len, ptrOf(value), value.len, ttl_ms));
    }

    /// Stores `value` under `key`, as `put` does, expiring at `at_ms`
    /// (milliseconds since the Unix epoch).
    pub fn putExpiringAt(db: DB, key: []const u8, value: []const u8, at_ms: u64) Error!void {
        try check(c.bitask_put_expiring_at(db.handle, ptrOf(key), key.len, ptrOf(value), value.len, at_ms));
    }

    /// Makes `key` expire `ttl_ms` milliseconds from now, keeping its value;
    /// `error.NotFound` (nothing written) when it is absent.
    pub fn expire(db: DB, key: []const u8, ttl_ms: u64) Error!void {
        try check(c.bitask_expire(db.handle, ptrOf(key), key.len, ttl_ms));
    }

    /// Makes `key` expire at `at_ms` (milliseconds since the Unix epoch),
    /// keeping its value; `error.NotFound` when it is absent.
    pub fn expireAt(db: DB, key: []const u8, at_ms: u64) Error!void {
        try check(c.bitask_expire_at(db.handle, ptrOf(key), key.len, at_ms));
    }

    /// Removes `key`'s expiry, keeping its value: true when it had one, false
    /// when it had none (nothing written); `error.NotFound` when it is absent.
    pub fn persist(db: DB, key: []const u8) Error!bool {
        var removed: i32 = 0;
        try check(c.bitask_persist(db.handle, ptrOf(key), key.len, &removed));
        return removed != 0;
    }

    /// The milliseconds `key` has left before it expires, `null` when it does
    /// not expire; `error.NotFound` when it is absent or has expired.
    pub fn ttl(db: DB, key: []const u8) Error!?u64 {
        var left: i64 = 0;
        try check(c.bitask_ttl(db.handle, ptrOf(key), key.len, &left));
        return if (left < 0) null else @intCast(left);
    }

    /// When `key` expires (milliseconds since the Unix epoch), `null` when it
    /// does not expire; `error.NotFound` when it is absent or has expired.
    pub fn expiry(db: DB, key: []const u8) Error!?u64 {
        var at: u64 = 0;
        try check(c.bitask_expiry(db.handle, ptrOf(key), key.len, &at));
        return if (at == 0) null else at;
    }

    /// Merges the sealed data files into new ones holding only live records.
    pub fn compact(db: DB) Error!void {
        try check(c.bitask_compact(db.handle));
    }

    /// Makes every write so far durable.
    pub fn sync(db: DB) Error!void {
        try check(c.bitask_sync(db.handle));
    }

    /// On a read-only handle, loads what the writer wrote since `open` or the
    /// last `refresh`; on a writer, does nothing.
    pub fn refresh(db: DB) Error!void {
        try check(c.bitask_refresh(db.handle));
    }

    /// Figures about the store.
    pub fn stats(db: DB) Error!Stats {
        var s: c.bitask_stats = undefined;
        try check(c.bitask_stat(db.handle, &s));
        return .{
            .key_count = s.key_count,
            .live_bytes = s.live_bytes,
            .dead_bytes = s.dead_bytes,
            .data_files = s.data_files,
            .disk_bytes = s.disk_bytes,
            .torn_bytes = s.torn_bytes,
        };
    }

    /// Whether an automatic merge is due, which files it would take and why
    /// (`MergeReason`, `NotDue` name the numbers), and the bytes it would
    /// read, write and give back. Changes nothing on disk.
    pub fn needsMerge(db: DB) Error!MergeReport {
        var r: c.bitask_merge_report = undefined;
        try check(c.bitask_needs_merge(db.handle, &r));
        return r;
    }

    /// Writes a consistent copy of the store as of the call into the
    /// directory `dest` while writes go on (a hot backup). `dest` must be
    /// missing, empty, or an earlier backup of this store, which is brought up
    /// to date; anything else is `error.Incompatible`, and `dest` is left as
    /// it was. The copy opens as the same store. A writer's handle only.
    pub fn checkpoint(db: DB, dest: []const u8) Error!CheckpointReport {
        var path_buf: PathBuf = undefined;
        var report: CheckpointReport = undefined;
        try check(c.bitask_checkpoint(db.handle, try cPath(&path_buf, dest), &report));
        return report;
    }

    /// Checks the store without changing anything (every record's checksum,
    /// hint files, seals, store tags, sequence order); what it finds is in the
    /// report (`problems_total` 0: intact).
    pub fn verify(db: DB) Error!VerifyReport {
        var report: VerifyReport = undefined;
        try check(c.bitask_verify(db.handle, &report));
        return report;
    }

    /// An iterator over the keys that start with `prefix` (all keys for an
    /// empty prefix), in byte order. `deinit` it before closing the store.
    pub fn iterator(db: DB, prefix: []const u8) Error!Iterator {
        var it: ?*c.bitask_iter = null;
        try check(c.bitask_iter_new(db.handle, ptrOf(prefix), prefix.len, &it));
        return .{ .handle = it orelse return error.Internal };
    }

    /// An iterator over the keys that `scan` covers: between its bounds, with
    /// its prefix, in its direction. `deinit` it before closing the store.
    pub fn range(db: DB, scan: Scan) Error!Iterator {
        var flags: c_int = 0;
        if (scan.reverse) flags |= c.BITASK_ITER_REVERSE;
        if (scan.keys_only) flags |= c.BITASK_ITER_KEYS_ONLY;
        if (scan.lower_exclusive) flags |= c.BITASK_ITER_LOWER_EXCLUSIVE;
        if (scan.upper_inclusive) flags |= c.BITASK_ITER_UPPER_INCLUSIVE;
        const lower = scan.lower orelse "";
        const upper = scan.upper orelse "";
        var it: ?*c.bitask_iter = null;
        try check(c.bitask_iter_new_range(db.handle, ptrOf(scan.prefix), scan.prefix.len, ptrOf(lower), lower.len, ptrOf(upper), upper.len, flags, &it));
        return .{ .handle = it orelse return error.Internal };
    }
};

/// What `DB.range` covers. The default is every key, ascending, with values.
pub const Scan = struct {
    /// Only keys that start with it (any key when empty).
    prefix: []const u8 = "",
    /// Keys >= lower (> lower with `lower_exclusive`); null or empty: no bound.
    lower: ?[]const u8 = null,
    /// Keys < upper (<= upper with `upper_inclusive`); null or empty: no bound.
    upper: ?[]const u8 = null,
    lower_exclusive: bool = false,
    upper_inclusive: bool = false,
    /// Descending key order.
    reverse: bool = false,
    /// Entries carry an empty value, and no value is read.
    keys_only: bool = false,
};

/// Iterates over a snapshot of the keys taken when it was made: a key removed
/// since is skipped, one overwritten since yields its newest value.
///
/// ```zig
/// var it = try db.iterator("user:");
/// defer it.deinit();
/// while (try it.next()) |entry| use(entry.key, entry.value);
/// ```
pub const Iterator = struct {
    handle: *c.bitask_iter,

    pub const Entry = struct {
        /// Valid until the next call of `next` or `deinit`.
        key: []const u8,
        /// Valid until the next call of `next` or `deinit`.
        value: []const u8,
    };

    /// The next entry, or null at the end.
    pub fn next(it: *Iterator) Error!?Entry {
        var key: [*c]const u8 = null;
        var key_len: usize = 0;
        var value: [*c]const u8 = null;
        var value_len: usize = 0;
        check(c.bitask_iter_next(it.handle, &key, &key_len, &value, &value_len)) catch |err| switch (err) {
            error.NotFound => return null,
            else => return err,
        };
        return .{ .key = key[0..key_len], .value = value[0..value_len] };
    }

    /// Moves the iterator: the next `next` returns the first key >= `key`
    /// (in a reverse scan, the last key <= `key`) within its range. It may
    /// move backwards; keys already returned are returned again.
    pub fn seek(it: *Iterator, key: []const u8) Error!void {
        try check(c.bitask_iter_seek(it.handle, ptrOf(key), key.len));
    }

    pub fn deinit(it: *Iterator) void {
        c.bitask_iter_free(it.handle);
        it.* = undefined;
    }
};
