"""argocdapp's Helm chart in the app's repository (DevStream's "automatically create Helm configuration"),
against the GitHub stand-in (every request checked against GitHub's OpenAPI description).

When `source.path` holds no file, dtm pushes its starter chart there in one commit, rendered for the app and
its image, and records each file's blob SHA. A path that already holds files is the team's: nothing is pushed.
A delete takes back only the files still as dtm wrote them.
"""

from __future__ import annotations

import pytest
import yaml
from github_standin import GitHubStandIn
from github_testkit import TOKEN

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.argocdapp.chart import push_chart, remove_chart
from devstream.plugins.argocdapp.options import ArgocdAppOptions


def options(**over: object) -> ArgocdAppOptions:
    raw: dict[str, object] = {
        "app": {"name": "shop"},
        "source": {"repoURL": "https://github.com/octo/shop", "path": "helm/shop", "repoBranch": "main",
                   "token": TOKEN},
        "imageRepo": {"url": "https://registry.example.com/", "user": "octo", "initalTag": "1.2.0"},
    }
    raw.update(over)
    return ArgocdAppOptions.model_validate(raw)


def test_the_chart_is_pushed_in_one_commit_when_the_path_is_empty(standin: GitHubStandIn, ctx: PluginContext):
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})

    record = push_chart(options(), ctx)

    files = standin.files("octo/shop")
    chart = {p: c for p, c in files.items() if p.startswith("helm/shop/")}
    assert sorted(chart) == ["helm/shop/.helmignore", "helm/shop/Chart.yaml", "helm/shop/templates/_helpers.tpl",
                             "helm/shop/templates/deployment.yaml", "helm/shop/templates/service.yaml",
                             "helm/shop/values.yaml"]
    assert len(standin.history("octo/shop")) == 2  # the seed, then ONE commit of the whole chart
    values = yaml.safe_load(chart["helm/shop/values.yaml"])
    assert values["image"] == {"repository": "registry.example.com/octo/shop", "tag": "1.2.0",
                               "pullPolicy": "IfNotPresent"}  # the registry's address, without its scheme
    assert yaml.safe_load(chart["helm/shop/Chart.yaml"])["name"] == "shop"
    assert b"{{ .Values.image.repository }}" in chart["helm/shop/templates/deployment.yaml"]  # Helm's own, untouched
    assert record is not None and record["repository"] == "octo/shop" and record["branch"] == "main"
    assert sorted(record["files"]) == sorted(chart)


def test_a_path_that_holds_files_is_left_to_the_team(standin: GitHubStandIn, ctx: PluginContext):
    standin.add_repo("octo/shop", files={"helm/shop/Chart.yaml": b"name: theirs\n"})

    assert push_chart(options(), ctx) is None
    assert standin.files("octo/shop") == {"helm/shop/Chart.yaml": b"name: theirs\n"}


def test_without_an_image_dtm_cannot_write_a_chart(standin: GitHubStandIn, ctx: PluginContext):
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})

    with pytest.raises(PermanentError, match="imageRepo"):
        push_chart(options(imageRepo=None), ctx)
    assert list(standin.files("octo/shop")) == ["README.md"]


def test_a_missing_repository_is_named(standin: GitHubStandIn, ctx: PluginContext):
    with pytest.raises(PermanentError, match="does not exist"):
        push_chart(options(), ctx)


def test_delete_takes_back_only_the_files_still_as_dtm_wrote_them(standin: GitHubStandIn, ctx: PluginContext):
    standin.add_repo("octo/shop", files={"README.md": b"# shop\n"})
    record = push_chart(options(), ctx)
    standin.commit_files("octo/shop", {"helm/shop/values.yaml": b"image: {tag: '2.0.0'}\n"}, "CI bumps the tag")

    remove_chart(record, options(), ctx)

    assert standin.files("octo/shop") == {"README.md": b"# shop\n",
                                          "helm/shop/values.yaml": b"image: {tag: '2.0.0'}\n"}
    remove_chart(record, options(), ctx)  # again: nothing left of dtm's, no commit
    assert len(standin.history("octo/shop")) == 4
