"""GitHubClient reads GitHub's answers as data from elsewhere: an answer that GitHub's description allows but
that lacks what dtm needs, content that is not base64, and a tree deeper than any real repository each end in
a clear PermanentError, never a KeyError, binascii.Error or RecursionError.

Every answer given here conforms to GitHub's OpenAPI description (the autouse check holds them to it): these
are answers GitHub, or a proxy in front of GitHub Enterprise, may give.
"""

from __future__ import annotations

import pytest
from github_standin import GitHubStandIn
from github_testkit import TOKEN

from devstream.errors import PermanentError
from devstream.plugin import PluginContext
from devstream.plugins.scm.base import RepoSpec
from devstream.plugins.scm.github import GitHubClient
from devstream.plugins.scm.github_answers import MAX_TREE_DEPTH

SHA = "3d21ec53a331a6f037a91c368710b99387d012c1"


@pytest.fixture
def client(ctx: PluginContext) -> GitHubClient:
    return GitHubClient(RepoSpec(scmType="github", owner="octo", name="web", token=TOKEN), ctx)


def content_file(content: str) -> dict[str, object]:
    """A contents API answer for a file, as the description's content-file schema has it."""
    url = "https://api.github.com/repos/octo/web/contents/a.txt?ref=main"
    return {"type": "file", "encoding": "base64", "size": 5, "name": "a.txt", "path": "a.txt", "content": content,
            "sha": SHA, "url": url, "git_url": f"https://api.github.com/repos/octo/web/git/blobs/{SHA}",
            "html_url": "https://github.com/octo/web/blob/main/a.txt",
            "download_url": "https://raw.githubusercontent.com/octo/web/main/a.txt",
            "_links": {"self": url, "git": f"https://api.github.com/repos/octo/web/git/blobs/{SHA}",
                       "html": "https://github.com/octo/web/blob/main/a.txt"}}


def test_a_first_push_answered_without_commit_sha_is_a_clear_error(client: GitHubClient,
                                                                   standin: GitHubStandIn) -> None:
    # The description's file-commit allows `commit: {}` (and `content: null`).
    standin.add_repo("octo/web")  # empty: the first file goes through the contents API
    standin.inject("PUT", r"/contents/", 201, body={"content": None, "commit": {}})

    with pytest.raises(PermanentError, match=r"GitHub octo/web: write a\.txt: GitHub's answer has no commit\.sha"):
        client.push_files({"a.txt": b"a\n", "b.txt": b"b\n"}, "first")


def test_content_that_is_not_base64_is_a_clear_error(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"a.txt": b"hello"})
    standin.inject("GET", r"/contents/a\.txt$", 200, body=content_file("aGVsbG8=\n!!not*base64!!\n"))

    with pytest.raises(PermanentError, match=r"GitHub octo/web: read a\.txt: .* not valid base64"):
        client.get_file("a.txt")


def test_content_with_broken_padding_is_a_clear_error(client: GitHubClient, standin: GitHubStandIn) -> None:
    standin.add_repo("octo/web", files={"a.txt": b"hello"})
    standin.inject("GET", r"/contents/a\.txt$", 200, body=content_file("aGVsbG8"))  # one '=' short

    with pytest.raises(PermanentError, match="not valid base64"):
        client.get_file("a.txt")


def test_content_lines_as_github_wraps_them_still_decode(client: GitHubClient, standin: GitHubStandIn) -> None:
    text = b"x" * 200
    standin.add_repo("octo/web", files={"a.txt": text})
    found = client.get_file("a.txt")
    assert found is not None and found.content == text


def test_a_tree_deeper_than_any_real_repository_stops_with_a_clear_error(client: GitHubClient,
                                                                         standin: GitHubStandIn) -> None:
    # A listing too long for one answer is read folder by folder; a server that lists a tree inside itself
    # would lead that walk on forever.
    standin.add_repo("octo/web", files={"a.txt": b"a\n"})
    standin.tree_limit = 0  # every recursive listing comes back truncated
    root = standin.git[standin.repo("octo/web").id].commits[standin.repo("octo/web").refs["refs/heads/main"]]["tree"]
    loop = {"sha": root, "url": f"https://api.github.com/repos/octo/web/git/trees/{root}", "truncated": False,
            "tree": [{"path": "again", "mode": "040000", "type": "tree", "sha": root}]}
    standin.inject("GET", rf"/git/trees/{root}$", 200, body=loop, times=5000)

    with pytest.raises(PermanentError, match=rf"list the files: the tree is more than {MAX_TREE_DEPTH} folders deep"):
        client.list_files()

    assert len(standin.calls("GET", f"/git/trees/{root}")) == 1  # each distinct tree is read once
