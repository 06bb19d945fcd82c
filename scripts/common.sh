# scripts/common.sh: shell helpers shared by scripts/demo.sh, test/run_tests.sh and bench/*.sh.
# Source it; it defines functions only.  PACKAGES (an array) names the Debian packages that
# install_packages makes sure of.

say() { printf '\n=== %s ===\n' "$*"; }

# Run a command as root: directly when root, else through sudo.
as_root()
{
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	else
		sudo "$@"
	fi
}

# Run a command as the user that owns the servers: postgres when root (PostgreSQL refuses to run
# as root), else ourselves.
as_pg()
{
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Install the packages of PACKAGES that are not installed yet; 1 (saying which) when it cannot.
install_packages()
{
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
			missing+=("$p")
		fi
	done
	if [ ${#missing[@]} -eq 0 ]; then
		echo "all installed: ${PACKAGES[*]}"
		return 0
	fi
	echo "installing: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
		echo "error: not root and no sudo; install these packages: ${missing[*]}" >&2
		return 1
	fi
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
		! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; then
		echo "error: could not install these packages: ${missing[*]}" >&2
		return 1
	fi
}
