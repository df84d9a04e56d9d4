#!/usr/bin/env bash
# ansible-test sanity for this collection, with no network but PyPI. Run by `make sanity`.
#
# ansible-test needs the collection as a real directory .../ansible_collections/selfhosted/dyndns
# (it resolves the .cache/collections symlink back into this git tree), so the checkout's files
# are copied there. Each sanity test gets a virtualenv whose pip ansible-test bootstraps with a
# get-pip script downloaded from ci-files.testing.ansible.com, which is not reachable here; its
# documented way round (ansible/ansible#77304) is that script already in ~/.ansible/test/cache.
# This writes one that does the same from PyPI: pip run from its own wheel. HOME is moved to
# .cache/sanity, so the test virtualenvs stay in the checkout too.
# tests/ and molecule/ are development files (not in the built collection) linted by ruff.
set -euo pipefail
cd "$(dirname "$0")/.."

pip_version=24.2 # the pip ansible-test 2.19 bootstraps (get_venv_packages in ansible_test)
root=$PWD/.cache/sanity
tree=$root/ansible_collections/selfhosted/dyndns
cache=$root/home/.ansible/test/cache
get_pip=$cache/get_pip_${pip_version//./_}.py

if [ ! -e "$get_pip" ]; then
  mkdir -p "$cache"
  pip download -q --no-deps --only-binary=:all: -d "$cache" "pip==$pip_version"
  cat >"$get_pip" <<EOF
"""get-pip $pip_version for ansible-test, from PyPI: pip run from its wheel."""
import runpy
import sys

sys.path.insert(0, "$cache/pip-$pip_version-py3-none-any.whl")
sys.argv = ["pip", "install", *(a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel"))]
runpy.run_module("pip", run_name="__main__", alter_sys=True)
EOF
fi

rm -rf "$tree"
mkdir -p "$tree"
git ls-files -z --cached --others --exclude-standard |
  tar -c --null --ignore-failed-read -T - | tar -x -C "$tree"
git -C "$tree" init -q # ansible-test lists a collection's files with git

cd "$tree"
HOME=$root/home ansible-test sanity --color no \
  --python "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --exclude tests/ --exclude molecule/
