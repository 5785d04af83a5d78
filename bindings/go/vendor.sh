#!/bin/sh
# Vendors this binding into a Go module, for a program that requires bitask.dev/bitask without
# a replace directive: no module proxy serves that path, so the go command cannot fetch it,
# but in vendor mode (the default when vendor/modules.txt exists) it builds what vendor/ holds.
#
# Usage: vendor.sh MODULE-DIR (a directory with a go.mod). Copies the package's sources into
# MODULE-DIR/vendor/bitask.dev/bitask, requires bitask.dev/bitask at the library's version in
# go.mod, and lists it in vendor/modules.txt. Run it again after updating this checkout.
# `go mod vendor` and `go mod tidy` look every required module up, so they fail on this one.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
app=$(cd "${1:?usage: vendor.sh MODULE-DIR}" && pwd)
[ -f "$app/go.mod" ] || { echo "vendor.sh: $app has no go.mod" >&2; exit 1; }
version=v$(sed -n 's/^version = "\(.*\)"$/\1/p' "$here/../../Cargo.toml" | head -n 1)
go_version=$(sed -n 's/^go //p' "$here/go.mod")
dest=$app/vendor/bitask.dev/bitask

rm -rf "$dest"
mkdir -p "$dest"
for f in "$here"/*.go "$here"/*.h "$here/go.mod"; do
    case $f in *_test.go) continue ;; esac
    cp "$f" "$dest/"
done
(cd "$app" && go mod edit -require="bitask.dev/bitask@$version")

# vendor/modules.txt: this module's entry replaced, any other module's kept.
modules=$app/vendor/modules.txt
touch "$modules"
awk '/^# / { skip = ($2 == "bitask.dev/bitask") } !skip' "$modules" >"$modules.new"
printf '# bitask.dev/bitask %s\n## explicit; go %s\nbitask.dev/bitask\n' "$version" "$go_version" \
    >>"$modules.new"
mv "$modules.new" "$modules"
echo "vendor.sh: bitask.dev/bitask $version vendored into $dest"
