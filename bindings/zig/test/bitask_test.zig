//! Tests of the Zig binding against the installed libbitask.
const std = @import("std");
const bitask = @import("bitask");
const testing = std.testing;
const io = testing.io;

/// A store in a fresh directory under .zig-cache/tmp.
const TestStore = struct {
    tmp: testing.TmpDir,
    path_buf: [128]u8 = undefined,
    path_len: usize = 0,

    fn init(store: *TestStore) void {
        store.* = .{ .tmp = testing.tmpDir(.{ .iterate = true }) };
        store.path_len = (std.fmt.bufPrint(&store.path_buf, ".zig-cache/tmp/{s}", .{&store.tmp.sub_path}) catch unreachable).len;
    }

    fn path(store: *const TestStore) []const u8 {
        return store.path_buf[0..store.path_len];
    }

    /// A path inside the store's directory.
    fn sub(store: *const TestStore, buf: []u8, name: []const u8) []const u8 {
        return std.fmt.bufPrint(buf, "{s}/{s}", .{ store.path(), name }) catch unreachable;
    }

    fn deinit(store: *TestStore) void {
        store.tmp.cleanup();
    }
};

/// The names and contents of the entries of `dir`, sorted by name, in one
/// string (from testing.allocator; the caller frees it): two snapshots are
/// equal when no file was added, removed or changed.
fn snapshot(dir: std.Io.Dir) ![]u8 {
    const a = testing.allocator;
    var names: std.ArrayList([]u8) = .empty;
    defer {
        for (names.items) |name| a.free(name);
        names.deinit(a);
    }
    var it = dir.iterate();
    while (try it.next(io)) |entry| {
        const name = try a.dupe(u8, entry.name);
        names.append(a, name) catch |err| {
            a.free(name);
            return err;
        };
    }
    std.mem.sort([]u8, names.items, {}, struct {
        fn lessThan(_: void, x: []u8, y: []u8) bool {
            return std.mem.lessThan(u8, x, y);
        }
    }.lessThan);
    var out: std.ArrayList(u8) = .empty;
    errdefer out.deinit(a);
    for (names.items) |name| {
        const data = try dir.readFileAlloc(io, name, a, .unlimited);
        defer a.free(data);
        try out.print(a, "{s}: {d} bytes: {s}\n", .{ name, data.len, data });
    }
    return out.toOwnedSlice(a);
}

/// Checks that `dir` holds what `before` (a `snapshot`) says, byte for byte.
fn expectUnchanged(dir: std.Io.Dir, before: []const u8) !void {
    const after = try snapshot(dir);
    defer testing.allocator.free(after);
    try testing.expectEqualStrings(before, after);
}

/// Checks that `path` does not exist.
fn expectAbsent(path: []const u8) !void {
    try testing.expectError(error.FileNotFound, std.Io.Dir.cwd().access(io, path, .{}));
}

/// Checks that the calling thread's last error message mentions `fragment`.
fn expectMessage(fragment: []const u8) !void {
    var buf: [1024]u8 = undefined;
    const msg = bitask.lastErrorMessage(&buf);
    if (std.mem.find(u8, msg, fragment) == null) {
        std.debug.print("last error message \"{s}\" does not mention \"{s}\"\n", .{ msg, fragment });
        return error.TestUnexpectedMessage;
    }
}

test "version is MAJOR.MINOR.PATCH" {
    const v = bitask.version();
    var parts = std.mem.splitScalar(u8, v, '.');
    var n: usize = 0;
    while (parts.next()) |part| : (n += 1) {
        _ = try std.fmt.parseInt(u32, part, 10);
    }
    try testing.expectEqual(@as(usize, 3), n);
}

test "put, get, contains, remove" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();

    try db.put("k", "v1");
    try db.put("k", "v2");
    const v = try db.get(testing.allocator, "k");
    defer testing.allocator.free(v);
    try testing.expectEqualStrings("v2", v);

    const bin_key = [_]u8{ 0, 1, 2, 0, 255 };
    const bin_value = [_]u8{ 0, 0, 0 };
    try db.put(&bin_key, &bin_value);
    const bv = try db.get(testing.allocator, &bin_key);
    defer testing.allocator.free(bv);
    try testing.expectEqualSlices(u8, &bin_value, bv);

    try testing.expect(try db.contains("k"));
    try testing.expect(!try db.contains("absent"));

    try db.remove("k");
    try testing.expectError(error.NotFound, db.get(testing.allocator, "k"));
    try testing.expectError(error.NotFound, db.remove("k"));
    try testing.expect(!try db.contains("k"));
}

test "an empty value differs from an absent key" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    {
        var db = try bitask.DB.open(s.path(), .{});
        defer db.close();
        try db.put("empty", "");
        const v = try db.get(testing.allocator, "empty");
        defer testing.allocator.free(v);
        try testing.expectEqual(@as(usize, 0), v.len);
        try testing.expect(try db.contains("empty"));
        try testing.expectEqual(@as(usize, 0), try db.valueLen("empty"));
        try testing.expectError(error.NotFound, db.get(testing.allocator, "absent"));
        try testing.expectError(error.NotFound, db.valueLen("absent"));
    }
    // And after a reopen.
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();
    const v = try db.get(testing.allocator, "empty");
    defer testing.allocator.free(v);
    try testing.expectEqual(@as(usize, 0), v.len);
}

test "large value spanning a data file of its own" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{ .max_file_size = 1 << 16 });
    defer db.close();

    const big = try testing.allocator.alloc(u8, 1 << 20);
    defer testing.allocator.free(big);
    for (big, 0..) |*b, i| b.* = @truncate(i *% 31);
    try db.put("big", big);
    const v = try db.get(testing.allocator, "big");
    defer testing.allocator.free(v);
    try testing.expectEqualSlices(u8, big, v);
}

test "getInto and valueLen" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();
    try db.put("k", "hello");
    try db.put("e", "");

    var buf: [16]u8 = undefined;
    try testing.expectEqualStrings("hello", try db.getInto("k", &buf));
    var small = [_]u8{ 'a', 'b', 'c' };
    try testing.expectError(error.BufferTooSmall, db.getInto("k", &small));
    try testing.expectEqualStrings("abc", &small); // nothing copied
    try testing.expectEqual(@as(usize, 5), try db.valueLen("k"));
    try testing.expectEqual(@as(usize, 0), (try db.getInto("e", &.{})).len);
    try testing.expectError(error.NotFound, db.getInto("absent", &buf));
    try testing.expectError(error.InvalidArgument, db.getInto("", &buf));
}

test "invalid arguments carry the library's message" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();

    try testing.expectError(error.InvalidArgument, db.put("", "v"));
    try expectMessage("key");
    try testing.expectError(error.InvalidArgument, db.get(testing.allocator, ""));
    try expectMessage("key");
    try testing.expectError(error.InvalidArgument, db.contains(""));
    try testing.expectError(error.InvalidArgument, db.remove(""));

    var buf: [256]u8 = undefined;
    try testing.expectError(error.InvalidArgument, bitask.DB.open(s.sub(&buf, "x"), .{ .max_file_size = 1 }));
    try expectMessage("max_file_size");
    try testing.expectError(error.InvalidArgument, bitask.DB.open(s.sub(&buf, "x"), .{ .sync = .{ .interval_ms = 0 } }));
    try expectMessage("interval");
    try testing.expectError(error.InvalidArgument, bitask.DB.open("", .{}));
    try expectMessage("path");
    try testing.expectError(error.InvalidArgument, bitask.DB.open("a\x00b", .{}));

    // The message in caller-owned memory.
    try testing.expectError(error.InvalidArgument, db.put("", ""));
    const msg = try bitask.lastErrorMessageAlloc(testing.allocator);
    defer testing.allocator.free(msg);
    try testing.expect(std.mem.find(u8, msg, "key") != null);
    // Truncation to a small buffer.
    var tiny: [4]u8 = undefined;
    try testing.expectEqualStrings(msg[0..3], bitask.lastErrorMessage(&tiny));
    try testing.expectEqual(@as(usize, 0), bitask.lastErrorMessage(&.{}).len);
}

test "too large" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();

    const key = try testing.allocator.alloc(u8, bitask.max_key_len + 1);
    defer testing.allocator.free(key);
    @memset(key, 'k');
    try testing.expectError(error.TooLarge, db.put(key, ""));
    try expectMessage("key");
    try testing.expectError(error.TooLarge, db.get(testing.allocator, key));
    try testing.expectError(error.TooLarge, db.iterator(key));
    try db.put(key[0..bitask.max_key_len], "v");
}

test "a second writer gets error.WriterLock" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    {
        var db = try bitask.DB.open(s.path(), .{});
        defer db.close();
        try db.put("k", "v");
        try testing.expectError(error.WriterLock, bitask.DB.open(s.path(), .{}));
        try expectMessage("lock");
    }
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();
    const v = try db.get(testing.allocator, "k");
    defer testing.allocator.free(v);
    try testing.expectEqualStrings("v", v);
}

test "read-only handles and refresh" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var w = try bitask.DB.open(s.path(), .{});
    defer w.close();
    try w.put("a", "1");
    try w.sync();

    var r = try bitask.DB.open(s.path(), .{ .read_only = true });
    defer r.close();
    var r2 = try bitask.DB.open(s.path(), .{ .read_only = true });
    r2.close();

    const a = try r.get(testing.allocator, "a");
    defer testing.allocator.free(a);
    try testing.expectEqualStrings("1", a);
    try testing.expectError(error.ReadOnly, r.put("a", "2"));
    try testing.expectError(error.ReadOnly, r.remove("a"));
    try testing.expectError(error.ReadOnly, r.compact());

    try w.put("b", "2");
    try w.remove("a");
    try w.sync();
    try r.refresh();
    const b = try r.get(testing.allocator, "b");
    defer testing.allocator.free(b);
    try testing.expectEqualStrings("2", b);
    try testing.expect(!try r.contains("a"));
    try w.refresh(); // nothing to do on a writer

    // A read-only open of a missing directory fails, and creates nothing.
    var buf: [256]u8 = undefined;
    const missing = s.sub(&buf, "missing");
    try testing.expectError(error.NoSuchPath, bitask.DB.open(missing, .{ .read_only = true }));
    try expectMessage(missing);
    try expectAbsent(missing);
}

test "an I/O failure names the path" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    // A name longer than a directory entry may be (ENAMETOOLONG) is none of
    // the failures with an error of their own.
    const long_name: [300]u8 = @splat('n');
    var buf: [512]u8 = undefined;
    try testing.expectError(error.Io, bitask.DB.open(s.sub(&buf, &long_name), .{}));
    try expectMessage(s.path());
}

test "a regular file as the path is error.NotADirectory" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    try s.tmp.dir.writeFile(io, .{ .sub_path = "file", .data = "not a directory" });
    const before = try snapshot(s.tmp.dir);
    defer testing.allocator.free(before);
    var fb: [256]u8 = undefined;
    const file = s.sub(&fb, "file");
    var sb: [256]u8 = undefined;
    const under = s.sub(&sb, "file/store");
    const cases = [_]bitask.Options{ .{}, .{ .read_only = true }, .{ .error_if_exists = true } };
    for (cases) |options| {
        // The path itself is a file, or a component of it is.
        for ([_][]const u8{ file, under }) |path| {
            try testing.expectError(error.NotADirectory, bitask.DB.open(path, options));
            try expectMessage(file);
        }
    }
    try expectUnchanged(s.tmp.dir, before);
}

test "create_if_missing = false" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var buf: [256]u8 = undefined;
    const missing = s.sub(&buf, "store");
    try testing.expectError(error.NoSuchPath, bitask.DB.open(missing, .{ .create_if_missing = false }));
    try expectMessage(missing);
    try expectAbsent(missing);

    // The default creates it, as `true` does.
    for ([_]bitask.Options{ .{}, .{ .create_if_missing = true } }, 0..) |options, i| {
        var nb: [16]u8 = undefined;
        var pb: [256]u8 = undefined;
        const path = s.sub(&pb, try std.fmt.bufPrint(&nb, "default{d}", .{i}));
        var db = try bitask.DB.open(path, options);
        db.close();
        const st = try std.Io.Dir.cwd().statFile(io, path, .{});
        try testing.expectEqual(std.Io.File.Kind.directory, st.kind);
    }

    // An existing empty directory opens without it, and an existing store.
    {
        var db = try bitask.DB.open(s.path(), .{ .create_if_missing = false });
        defer db.close();
        try db.put("k", "v");
    }
    var db = try bitask.DB.open(s.path(), .{ .create_if_missing = false });
    defer db.close();
    const v = try db.get(testing.allocator, "k");
    defer testing.allocator.free(v);
    try testing.expectEqualStrings("v", v);
}

test "a missing parent is error.NoSuchPath" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var pb: [256]u8 = undefined;
    const parent = s.sub(&pb, "missing");
    var buf: [256]u8 = undefined;
    const path = s.sub(&buf, "missing/store");
    // Only the last component is ever created.
    const cases = [_]bitask.Options{
        .{},
        .{ .create_if_missing = false },
        .{ .read_only = true },
        .{ .error_if_exists = true },
    };
    for (cases) |options| {
        try testing.expectError(error.NoSuchPath, bitask.DB.open(path, options));
        try expectMessage(parent);
        try expectAbsent(parent);
    }
}

test "error_if_exists" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    // A new store: an empty directory, or a missing one.
    {
        var db = try bitask.DB.open(s.path(), .{ .error_if_exists = true });
        defer db.close();
        try db.put("k", "v");
    }
    {
        var buf: [256]u8 = undefined;
        var db = try bitask.DB.open(s.sub(&buf, "new"), .{ .error_if_exists = true });
        db.close();
        try s.tmp.dir.deleteTree(io, "new");
    }

    // An existing store is refused, for writers and readers alike, and left
    // as it was.
    const before = try snapshot(s.tmp.dir);
    defer testing.allocator.free(before);
    const cases = [_]bitask.Options{
        .{ .error_if_exists = true },
        .{ .error_if_exists = true, .create_if_missing = false },
        .{ .error_if_exists = true, .read_only = true },
    };
    for (cases) |options| {
        try testing.expectError(error.Exists, bitask.DB.open(s.path(), options));
        try expectMessage(s.path());
    }
    try expectUnchanged(s.tmp.dir, before);

    // Without it the store opens, with its content.
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();
    const v = try db.get(testing.allocator, "k");
    defer testing.allocator.free(v);
    try testing.expectEqualStrings("v", v);
}

test "a foreign file under a data file's name is refused, unchanged" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    // A file of another program: no db.id says the directory is a store, and
    // the file is not one the library wrote.
    try s.tmp.dir.writeFile(io, .{
        .sub_path = "2024.active.log",
        .data = "2024-01-01 12:00:00 service started\n2024-01-01 12:00:01 listening on :80\n",
    });
    const before = try snapshot(s.tmp.dir);
    defer testing.allocator.free(before);
    const cases = [_]bitask.Options{ .{}, .{ .read_only = true }, .{ .create_if_missing = false } };
    for (cases) |options| {
        try testing.expectError(error.Incompatible, bitask.DB.open(s.path(), options));
        try expectMessage("2024.active.log");
        // Refused, with no lock file or identity left behind.
        try expectUnchanged(s.tmp.dir, before);
    }
}

test "access refused is error.Permission" {
    // The superuser is not refused access.
    if (std.c.geteuid() == 0) return error.SkipZigTest;
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    try s.tmp.dir.createDir(io, "locked", .fromMode(0o500));
    defer s.tmp.dir.setFilePermissions(io, "locked", .fromMode(0o700), .{}) catch {};
    var buf: [256]u8 = undefined;
    const path = s.sub(&buf, "locked/store");
    try testing.expectError(error.Permission, bitask.DB.open(path, .{}));
    try expectMessage(path);
    try expectAbsent(path);
}

test "sync modes" {
    const cases = [_]bitask.Options{
        .{ .sync = .none },
        .{ .sync = .always },
        .{ .sync = .{ .interval_ms = 5 } },
        .{ .max_file_size = 1 << 20 },
    };
    for (cases) |options| {
        var s: TestStore = undefined;
        s.init();
        defer s.deinit();
        {
            var db = try bitask.DB.open(s.path(), options);
            defer db.close();
            var kb: [16]u8 = undefined;
            for (0..20) |i| try db.put(try std.fmt.bufPrint(&kb, "k{d}", .{i}), "v");
            try db.sync();
        }
        var db = try bitask.DB.open(s.path(), options);
        defer db.close();
        try testing.expectEqual(@as(u64, 20), (try db.stats()).key_count);
    }
}

test "stats and compact" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{ .max_file_size = 4096 });
    defer db.close();

    const empty = try db.stats();
    try testing.expectEqual(@as(u64, 0), empty.key_count);
    try testing.expectEqual(@as(u64, 0), empty.live_bytes);

    const val_bytes: [100]u8 = @splat('x');
    const val: []const u8 = &val_bytes;
    var kb: [16]u8 = undefined;
    for (0..3) |_| {
        for (0..100) |i| try db.put(try std.fmt.bufPrint(&kb, "key{d:0>3}", .{i}), val);
    }
    for (0..50) |i| try db.remove(try std.fmt.bufPrint(&kb, "key{d:0>3}", .{i}));

    const before = try db.stats();
    try testing.expectEqual(@as(u64, 50), before.key_count);
    try testing.expect(before.live_bytes > 0);
    try testing.expect(before.dead_bytes > 0);
    try testing.expect(before.data_files >= 2);
    try testing.expect(before.disk_bytes > 0);

    try db.compact();
    const after = try db.stats();
    try testing.expectEqual(@as(u64, 50), after.key_count);
    try testing.expect(after.dead_bytes < before.dead_bytes);
    try testing.expect(after.disk_bytes < before.disk_bytes);

    for (0..100) |i| {
        const key = try std.fmt.bufPrint(&kb, "key{d:0>3}", .{i});
        if (i < 50) {
            try testing.expectError(error.NotFound, db.get(testing.allocator, key));
        } else {
            const v = try db.get(testing.allocator, key);
            defer testing.allocator.free(v);
            try testing.expectEqualStrings(val, v);
        }
    }
}

/// Fills a store with 40 values of `val`, compacted (every data file then has
/// a hint file) or not.
fn fillForCorruption(store: *const TestStore, val: []const u8, compact: bool) !void {
    var db = try bitask.DB.open(store.path(), .{ .max_file_size = 1024 });
    defer db.close();
    var kb: [16]u8 = undefined;
    for (0..40) |i| try db.put(try std.fmt.bufPrint(&kb, "key{d:0>2}", .{i}), val);
    if (compact) try db.compact();
}

/// Deletes the hint files (`.hint`) of the store, one per pass, as a
/// directory is not listed reliably while it changes.
fn removeHints(store: *TestStore) !void {
    while (true) {
        var it = store.tmp.dir.iterate();
        const hint = while (try it.next(io)) |entry| {
            if (entry.kind == .file and std.mem.endsWith(u8, entry.name, ".hint")) break entry.name;
        } else return;
        try store.tmp.dir.deleteFile(io, hint);
    }
}

/// Flips a byte inside `val` in each data file (`.log`) that holds it and
/// whose having a hint file is `hinted`; returns how many files it changed.
fn corruptValues(store: *TestStore, val: []const u8, hinted: bool) !usize {
    var changed: usize = 0;
    var it = store.tmp.dir.iterate();
    while (try it.next(io)) |entry| {
        if (entry.kind != .file or !std.mem.endsWith(u8, entry.name, ".log")) continue;
        var hb: [256]u8 = undefined;
        const hint = try std.fmt.bufPrint(&hb, "{s}.hint", .{entry.name[0 .. entry.name.len - ".log".len]});
        const has_hint = if (store.tmp.dir.access(io, hint, .{})) |_| true else |_| false;
        if (has_hint != hinted) continue;
        const data = try store.tmp.dir.readFileAlloc(io, entry.name, testing.allocator, .unlimited);
        defer testing.allocator.free(data);
        const at = std.mem.find(u8, data, val) orelse continue;
        data[at + val.len / 2] ^= 0xff;
        try store.tmp.dir.writeFile(io, .{ .sub_path = entry.name, .data = data });
        changed += 1;
    }
    return changed;
}

test "corruption found by recovery names the file" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    const val_bytes: [200]u8 = @splat('v');
    try fillForCorruption(&s, &val_bytes, false);
    // Data files without hint files are read whole at open. Every sealed
    // file gets a hint in the background, so the hints are removed to make a
    // store as 0.1.1 left it.
    try removeHints(&s);
    try testing.expect(try corruptValues(&s, &val_bytes, false) > 1);
    try testing.expectError(error.Corruption, bitask.DB.open(s.path(), .{}));
    try expectMessage(s.path());
}

test "corruption found by reads and iteration" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    const val_bytes: [200]u8 = @splat('v');
    try fillForCorruption(&s, &val_bytes, true);
    // Open reads the hint files; the damage shows when a value is read.
    try testing.expect(try corruptValues(&s, &val_bytes, true) > 0);

    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();
    var kb: [16]u8 = undefined;
    var saw_corruption = false;
    for (0..40) |i| {
        const key = try std.fmt.bufPrint(&kb, "key{d:0>2}", .{i});
        if (db.get(testing.allocator, key)) |v| {
            testing.allocator.free(v);
        } else |err| {
            try testing.expectEqual(error.Corruption, err);
            try expectMessage(s.path());
            saw_corruption = true;
        }
    }
    try testing.expect(saw_corruption);

    var iter = try db.iterator("");
    defer iter.deinit();
    const result = while (true) {
        const entry = iter.next() catch |err| break err;
        if (entry == null) break error.TestExpectedError;
    };
    try testing.expectEqual(error.Corruption, result);
    try expectMessage(s.path());
}

test "incompatible format" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    {
        var db = try bitask.DB.open(s.path(), .{});
        defer db.close();
        try db.put("k", "v");
    }
    var changed: usize = 0;
    var it = s.tmp.dir.iterate();
    while (try it.next(io)) |entry| {
        if (entry.kind != .file or !std.mem.endsWith(u8, entry.name, ".log")) continue;
        const data = try s.tmp.dir.readFileAlloc(io, entry.name, testing.allocator, .unlimited);
        defer testing.allocator.free(data);
        // A newer format version, the header otherwise intact (checksum recomputed).
        std.mem.writeInt(u32, data[8..12], 99, .little);
        std.mem.writeInt(u32, data[48..52], std.hash.Crc32.hash(data[0..48]), .little);
        try s.tmp.dir.writeFile(io, .{ .sub_path = entry.name, .data = data });
        changed += 1;
    }
    try testing.expect(changed > 0);
    try testing.expectError(error.Incompatible, bitask.DB.open(s.path(), .{}));
    try expectMessage(s.path());
}

test "iterator: order, prefixes, empty values, snapshot" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();

    const keys = [_][]const u8{ "b", "a", "c", "ab", "abc", "b\x00", "z" };
    var vb: [16]u8 = undefined;
    for (keys) |k| try db.put(k, try std.fmt.bufPrint(&vb, "v-{s}", .{k}));
    try db.put("empty", "");

    const Expect = struct {
        fn run(d: bitask.DB, prefix: []const u8, want: []const []const u8) !void {
            var it = try d.iterator(prefix);
            defer it.deinit();
            var n: usize = 0;
            var buf: [16]u8 = undefined;
            while (try it.next()) |entry| : (n += 1) {
                try testing.expect(n < want.len);
                try testing.expectEqualStrings(want[n], entry.key);
                if (std.mem.eql(u8, entry.key, "empty")) {
                    try testing.expectEqual(@as(usize, 0), entry.value.len);
                } else {
                    try testing.expectEqualStrings(try std.fmt.bufPrint(&buf, "v-{s}", .{entry.key}), entry.value);
                }
            }
            try testing.expectEqual(want.len, n);
            try testing.expect(try it.next() == null); // stays at the end
        }
    };
    try Expect.run(db, "", &.{ "a", "ab", "abc", "b", "b\x00", "c", "empty", "z" });
    try Expect.run(db, "a", &.{ "a", "ab", "abc" });
    try Expect.run(db, "b", &.{ "b", "b\x00" });
    try Expect.run(db, "nothing", &.{});

    // Snapshot: removed since is skipped, overwritten since yields the new value.
    var it = try db.iterator("a");
    defer it.deinit();
    try db.remove("ab");
    try db.put("abc", "new");
    const first = (try it.next()).?;
    try testing.expectEqualStrings("a", first.key);
    const second = (try it.next()).?;
    try testing.expectEqualStrings("abc", second.key);
    try testing.expectEqualStrings("new", second.value);
    try testing.expect(try it.next() == null);
}

test "range: bounds, prefix, reverse, keys only, seek" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();
    for ([_][]const u8{ "a", "ab", "abc", "b", "ba", "c", "d" }) |k| try db.put(k, k);

    const Expect = struct {
        fn run(d: bitask.DB, scan: bitask.Scan, seek: ?[]const u8, want: []const []const u8) !void {
            var it = try d.range(scan);
            defer it.deinit();
            if (seek) |k| try it.seek(k);
            var n: usize = 0;
            while (try it.next()) |entry| : (n += 1) {
                try testing.expect(n < want.len);
                try testing.expectEqualStrings(want[n], entry.key);
                try testing.expectEqualStrings(if (scan.keys_only) "" else entry.key, entry.value);
            }
            try testing.expectEqual(want.len, n);
        }
    };
    try Expect.run(db, .{}, null, &.{ "a", "ab", "abc", "b", "ba", "c", "d" });
    try Expect.run(db, .{ .lower = "ab", .upper = "c" }, null, &.{ "ab", "abc", "b", "ba" });
    try Expect.run(db, .{ .lower = "ab", .upper = "c", .lower_exclusive = true, .upper_inclusive = true }, null, &.{ "abc", "b", "ba", "c" });
    try Expect.run(db, .{ .prefix = "a", .reverse = true, .keys_only = true }, null, &.{ "abc", "ab", "a" });
    try Expect.run(db, .{}, "bb", &.{ "c", "d" });
    try Expect.run(db, .{ .reverse = true }, "bb", &.{ "ba", "b", "abc", "ab", "a" });

    var it = try db.range(.{});
    defer it.deinit();
    try testing.expectError(error.InvalidArgument, it.seek(""));
}

const Concurrent = struct {
    const workers = 8;
    const per_worker = 300;

    fn run(db: bitask.DB, w: usize, failures: *std.atomic.Value(u32)) void {
        work(db, w) catch |err| {
            std.debug.print("worker {d}: {s}\n", .{ w, @errorName(err) });
            _ = failures.fetchAdd(1, .monotonic);
        };
    }

    fn work(db: bitask.DB, w: usize) !void {
        var kb: [32]u8 = undefined;
        var vb: [32]u8 = undefined;
        var out: [64]u8 = undefined;
        for (0..per_worker) |i| {
            const k = try std.fmt.bufPrint(&kb, "w{d}/k{d}", .{ w, i % 50 });
            const v = try std.fmt.bufPrint(&vb, "value-{d}-{d}", .{ w, i });
            try db.put(k, v);
            try testing.expectEqualStrings(v, try db.getInto(k, &out));
            const got = try db.get(std.heap.c_allocator, k);
            defer std.heap.c_allocator.free(got);
            try testing.expectEqualStrings(v, got);
            try testing.expect(try db.contains(k));
            if (i % 7 == 0) try db.remove(k);
            // Each thread sees its own message while others fail differently.
            if (i % 10 == 0) {
                try testing.expectError(error.InvalidArgument, db.put("", v));
                try expectMessage("key");
            }
        }
    }

    fn scan(db: bitask.DB, failures: *std.atomic.Value(u32)) void {
        scanWork(db) catch |err| {
            std.debug.print("scanner: {s}\n", .{@errorName(err)});
            _ = failures.fetchAdd(1, .monotonic);
        };
    }

    fn scanWork(db: bitask.DB) !void {
        for (0..20) |_| {
            var it = try db.iterator("");
            defer it.deinit();
            while (try it.next()) |_| {}
            _ = try db.stats();
        }
    }

    fn maintain(db: bitask.DB, failures: *std.atomic.Value(u32)) void {
        maintainWork(db) catch |err| {
            std.debug.print("compactor: {s}\n", .{@errorName(err)});
            _ = failures.fetchAdd(1, .monotonic);
        };
    }

    fn maintainWork(db: bitask.DB) !void {
        for (0..5) |_| {
            try db.compact();
            try db.sync();
        }
    }
};

test "many threads on one handle" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{ .max_file_size = 8192 });
    defer db.close();

    var failures = std.atomic.Value(u32).init(0);
    var threads: [Concurrent.workers + 2]std.Thread = undefined;
    for (0..Concurrent.workers) |w| {
        threads[w] = try std.Thread.spawn(.{}, Concurrent.run, .{ db, w, &failures });
    }
    threads[Concurrent.workers] = try std.Thread.spawn(.{}, Concurrent.scan, .{ db, &failures });
    threads[Concurrent.workers + 1] = try std.Thread.spawn(.{}, Concurrent.maintain, .{ db, &failures });
    for (threads) |t| t.join();
    try testing.expectEqual(@as(u32, 0), failures.load(.monotonic));

    const st = try db.stats();
    try testing.expect(st.key_count > 0 and st.key_count <= Concurrent.workers * 50);
}

test "status codes map to errors and back" {
    const all = [_]bitask.Error{
        error.NotFound,      error.BufferTooSmall, error.InvalidArgument, error.WriterLock,
        error.ReadOnly,      error.Io,             error.Corruption,      error.TooLarge,
        error.Internal,      error.Incompatible,   error.NoSuchPath,      error.Permission,
        error.NotADirectory, error.NoSpace,        error.Exists,          error.KeyExists,
        error.Mismatch,
    };
    // Every error of the set is listed, once.
    try testing.expectEqual(@typeInfo(bitask.Error).error_set.error_names.?.len, all.len);
    try bitask.check(@as(c_int, 0));
    for (all, 1..) |err, code| {
        const status = bitask.statusOf(err);
        try testing.expectEqual(@as(c_int, @intCast(code)), @backingInt(status));
        try testing.expectError(err, bitask.check(@backingInt(status)));
        try testing.expect(status.description().len > 0);
    }
    try testing.expectError(error.Internal, bitask.check(@as(c_int, 99)));
    try testing.expect(std.mem.find(u8, bitask.Status.writer_lock.description(), "locked") != null);
}

test "the README's example" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    const allocator = testing.allocator;

    var db = try bitask.DB.open(s.path(), .{ .sync = .always });
    defer db.close();

    try db.put("user:1", "ada");

    const value = try db.get(allocator, "user:1");
    defer allocator.free(value);
    try testing.expectEqualStrings("ada", value);

    var it = try db.iterator("user:");
    defer it.deinit();
    var n: usize = 0;
    while (try it.next()) |entry| : (n += 1) {
        try testing.expectEqualStrings("user:1", entry.key);
        try testing.expectEqualStrings("ada", entry.value);
    }
    try testing.expectEqual(@as(usize, 1), n);

    // The error-reporting snippet.
    const second = bitask.DB.open(s.path(), .{}) catch |err| blk: {
        var buf: [512]u8 = undefined;
        try testing.expectEqual(error.WriterLock, err);
        try testing.expect(bitask.lastErrorMessage(&buf).len > 0);
        break :blk null;
    };
    try testing.expect(second == null);
}

test "needsMerge lists what a merge would take; auto_merge can be off" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{ .max_file_size = 4096, .auto_merge = false });
    defer db.close();
    const val_bytes: [100]u8 = @splat('x');
    const val: []const u8 = &val_bytes;
    var kb: [16]u8 = undefined;
    for (0..4) |_| {
        for (0..100) |i| try db.put(try std.fmt.bufPrint(&kb, "key{d:0>3}", .{i}), val);
    }
    try db.sync();
    const r = try db.needsMerge();
    // A few kilobytes of dead records are below the default triggers.
    try testing.expect(!r.due);
    try testing.expectEqual(bitask.NotDue.below_triggers, @as(bitask.NotDue, @fromBackingInt(@intCast(r.why_not))));
    try testing.expect(r.files_listed > 0);
    try testing.expect(r.store_dead_bytes > 0);
    try testing.expect(r.read_bytes >= r.write_bytes);
}

test "checkpoint, verify and repair" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{});
    try db.put("one", "one");
    try db.put("two", "two");
    var nb: [256]u8 = undefined;
    const backup = s.sub(&nb, "backup");
    const made = try db.checkpoint(backup);
    try testing.expectEqual(@as(u64, 1), made.copied);
    const intact = try db.verify();
    try testing.expectEqual(@as(u64, 0), intact.problems_total);
    try testing.expectEqual(@as(u64, 2), intact.records);
    db.close();

    // The value of the first record: 52-byte file header, 29-byte record header, "one".
    var it = s.tmp.dir.iterate();
    var name_buf: [128]u8 = undefined;
    var name: []const u8 = "";
    while (try it.next(io)) |entry| {
        if (entry.kind == .file and std.mem.endsWith(u8, entry.name, ".active.log")) {
            @memcpy(name_buf[0..entry.name.len], entry.name);
            name = name_buf[0..entry.name.len];
        }
    }
    const data = try s.tmp.dir.readFileAlloc(io, name, testing.allocator, .unlimited);
    defer testing.allocator.free(data);
    data[52 + 29 + 3] ^= 0xff;
    try s.tmp.dir.writeFile(io, .{ .sub_path = name, .data = data });

    const damaged = try bitask.verifyPath(s.path());
    try testing.expectEqual(@as(u64, 1), damaged.problems_total);
    try testing.expectEqual(@as(u64, 52), damaged.problems[0].offset);
    const file: [*:0]const u8 = @ptrCast(&damaged.problems[0].file);
    try testing.expectEqualStrings(name, std.mem.span(file));

    const repaired = try bitask.repair(s.path());
    try testing.expectEqual(@as(u64, 1), repaired.records_kept);
    try testing.expectEqual(@as(u64, 1), repaired.records_lost);
    try testing.expectEqual(@as(u64, 1), repaired.files_quarantined);
    var again = try bitask.DB.open(s.path(), .{});
    defer again.close();
    const v = try again.get(testing.allocator, "two");
    defer testing.allocator.free(v);
    try testing.expectEqualStrings("two", v);
    try testing.expectError(error.WriterLock, bitask.repair(s.path()));

    var copy = try bitask.DB.open(backup, .{});
    defer copy.close();
    const w = try copy.get(testing.allocator, "one");
    defer testing.allocator.free(w);
    try testing.expectEqualStrings("one", w);
}

test "batches, conditional writes and multiGet" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();

    try db.put("gone", "x");
    var b = try bitask.Batch.init();
    defer b.deinit();
    try b.put("a", "1");
    try b.remove("gone");
    try b.put("e", "");
    try testing.expectError(error.InvalidArgument, b.put("", "v"));
    try db.write(b);
    try testing.expect(!try db.contains("gone"));
    b.clear();
    try db.write(b);

    try testing.expect(!try db.putIfAbsent("a", "2"));
    try testing.expect(try db.putIfAbsent("n", "2"));
    try testing.expect(!try db.compareAndSet("a", "0", "3"));
    try testing.expect(!try db.compareAndSet("a", null, "3"));
    try testing.expect(try db.compareAndSet("a", "1", "3"));
    try testing.expect(try db.compareAndSet("e", "", null));
    try testing.expect(try db.compareAndSet("e", null, null));

    const keys = [_][]const u8{ "a", "e", "n", "a" };
    var buf: [2]u8 = undefined;
    var found: [keys.len]bitask.Found = undefined;
    try db.multiGet(testing.allocator, &keys, &buf, &found);
    try testing.expectEqualStrings("3", found[0].value);
    try testing.expect(found[1] == .not_found);
    try testing.expectEqualStrings("2", found[2].value);
    try testing.expectEqual(@as(usize, 1), found[3].buffer_too_small);
}

test "keys with a time to live: expired at once, or an hour ahead, across a compaction and a reopen" {
    var s: TestStore = undefined;
    s.init();
    defer s.deinit();
    const hour: u64 = 3600 * 1000;
    {
        var db = try bitask.DB.open(s.path(), .{});
        defer db.close();
        try db.putTtl("soon", "v", hour);
        try db.putExpiringAt("past", "v", 1);
        try db.putTtl("zero", "v", 0);
        try db.put("plain", "v");
        try testing.expect(!try db.contains("past"));
        try testing.expect(!try db.contains("zero"));
        try testing.expectError(error.NotFound, db.get(testing.allocator, "past"));
        const left = (try db.ttl("soon")).?;
        try testing.expect(left > 0 and left <= hour);
        try testing.expect((try db.expiry("soon")).? > hour);
        try testing.expectEqual(@as(?u64, null), try db.ttl("plain"));
        try testing.expectEqual(@as(?u64, null), try db.expiry("plain"));
        try testing.expectError(error.NotFound, db.ttl("past"));
        try testing.expectEqual(@as(u64, 2), (try db.stats()).key_count);
        try testing.expect(!try db.persist("plain"));
        try db.expire("plain", hour);
        try testing.expect((try db.ttl("plain")) != null);
        try testing.expect(try db.persist("plain"));
        try db.expireAt("plain", 1);
        try testing.expect(!try db.contains("plain"));
        try testing.expectError(error.NotFound, db.expire("nothing", hour));
        try testing.expectError(error.NotFound, db.persist("nothing"));
        var batch = try bitask.Batch.init();
        defer batch.deinit();
        try batch.putExpiringAt("b1", "v", 1);
        try batch.putExpiringAt("b2", "v", std.math.maxInt(u64));
        try db.write(batch);
        try testing.expect(!try db.contains("b1"));
        try testing.expectEqual(@as(?u64, std.math.maxInt(u64)), try db.expiry("b2"));
        try db.compact();
    }
    var db = try bitask.DB.open(s.path(), .{});
    defer db.close();
    try testing.expect((try db.ttl("soon")) != null);
    try testing.expect(!try db.contains("past"));
    try testing.expect(!try db.contains("plain"));
}
