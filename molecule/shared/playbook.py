"""Run a playbook against a Molecule scenario's own inventory, from its verifier."""

import json
import os
import subprocess


def run_playbook(playbook, limit, *extra_vars, options=()):
    """ansible-playbook [OPTIONS] PLAYBOOK [--limit LIMIT], each of extra_vars as --extra-vars JSON.

    The result's `output` holds stdout and stderr, without colours.
    """
    command = ["ansible-playbook", "--inventory", os.environ["MOLECULE_INVENTORY_FILE"]]
    command += ["--limit", limit] if limit else []
    command += list(options)
    command.append(str(playbook))
    for extra in extra_vars:
        command += ["--extra-vars", json.dumps(extra)]
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    result = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    result.output = result.stdout + result.stderr
    return result
