"""docs/install.md tells users who install the wheel which Debian packages Qt needs: the list scripts/bootstrap.sh
installs for the checkout, kept in step."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def test_the_readme_lists_the_debian_packages_bootstrap_installs():
    bootstrap = (ROOT / "scripts" / "bootstrap.sh").read_text()
    array = re.search(r"^QT_DEBS=\((.*?)\)", bootstrap, re.S | re.M).group(1)
    debs = {word for line in array.splitlines() for word in line.split("#")[0].split()}
    readme = (ROOT / "docs" / "install.md").read_text()
    command = re.search(r"^sudo apt-get install (.*?)\n```", readme, re.S | re.M).group(1)
    # bootstrap.sh picks libasound2t64 or, on older releases, libasound2 at run time; the README names the new one.
    assert set(command.replace("\\", " ").split()) == debs | {"libasound2t64"}
