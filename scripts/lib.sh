# lib.sh: shared by scripts/test.sh and scripts/demo.sh (sourced, not run).

root=$(cd "$(dirname "$0")/.." && pwd)

say() {
	printf '\n==> %s\n' "$*" >&2
}

# venv DIR REQUIREMENTS: creates DIR with the pinned requirements, or reuses it
# when it was made from the same requirements file.
venv() {
	dir=$1
	req=$2
	stamp="$dir/.requirements.sha256"
	want=$(sha256sum "$req" | cut -d' ' -f1)
	if [ -x "$dir/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	say "creating Python virtualenv $dir from $req"
	rm -rf "$dir"
	python3 -m venv "$dir"
	"$dir/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
	echo "$want" >"$stamp"
}

# build DIR [CMAKE OPTIONS...]: configures and builds the project in DIR.
build() {
	dir=$1
	shift
	cmake -S "$root" -B "$dir" -G Ninja "$@" >/dev/null
	cmake --build "$dir"
}
