//! Build of the bitask Zig binding, for the Zig version in build.zig.zon.
//!
//! The C library is found through pkg-config (`bitask.pc`): set
//! PKG_CONFIG_PATH for a library outside the default search path. Without
//! pkg-config, give the directories by hand:
//!
//!     zig build test -Dinclude-dir=/opt/bitask/include -Dlib-dir=/opt/bitask/lib
//!
//! Steps: `zig build test` runs the tests.
const std = @import("std");

pub fn build(b: *std.Build) void {
    const target = b.standardTargetOptions(.{});
    const optimize = b.standardOptimizeOption(.{});

    const include_dir = b.option([]const u8, "include-dir", "Directory holding bitask.h (default: from pkg-config)");
    const lib_dir = b.option([]const u8, "lib-dir", "Directory holding libbitask.so (default: from pkg-config); also added to the run path");

    // bitask.h translated into the module "c".
    const translate_c = b.addTranslateC(.{
        .root_source_file = b.path("src/c.h"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
    });
    if (include_dir) |dir| {
        translate_c.addIncludePath(.{ .cwd_relative = dir });
    } else {
        // For the include directory pkg-config tells (without pkg-config:
        // the default search paths).
        translate_c.linkSystemLibrary("bitask", .{});
    }
    const c_mod = translate_c.createModule();

    // The binding, for packages that depend on this one: @import("bitask").
    const mod = b.addModule("bitask", .{
        .root_source_file = b.path("src/bitask.zig"),
        .target = target,
        .optimize = optimize,
        .link_libc = true,
        .imports = &.{.{ .name = "c", .module = c_mod }},
    });
    mod.linkSystemLibrary("bitask", .{ .use_pkg_config = if (lib_dir != null) .no else .yes });
    if (lib_dir) |dir| {
        mod.addLibraryPath(.{ .cwd_relative = dir });
        mod.addRPath(.{ .cwd_relative = dir });
    }

    // The tests use the binding the way a dependent package does.
    const tests = b.addTest(.{
        .root_module = b.createModule(.{
            .root_source_file = b.path("test/bitask_test.zig"),
            .target = target,
            .optimize = optimize,
            .link_libc = true,
            .imports = &.{.{ .name = "bitask", .module = mod }},
        }),
    });
    const run_tests = b.addRunArtifact(tests);
    // Always run: the library under test can change without this package changing.
    run_tests.has_side_effects = true;
    const test_step = b.step("test", "Run the binding's tests against the installed libbitask");
    test_step.dependOn(&run_tests.step);
}
