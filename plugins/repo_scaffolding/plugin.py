"""The repo-scaffolding plugin: a repository created from a template, in one commit.

As DevStream's did, it reads the template repository, renders every file whose path contains `tpl` with the
template variables (`AppName`, `Repo.Name`, `Repo.Owner`, then the user's `vars`, which win), drops a
`.tpl` suffix from file names, replaces `_app_name_` in paths with the repository's name, skips `.git/`,
creates the destination repository and pushes the tree. Unlike DevStream's:

- README.md is kept (DevStream dropped it), rendered only when its path contains `tpl` like any file;
- templates are jinja2 with `[[ ]]` delimiters; DevStream's Go-style leading dot (`[[ .AppName ]]`) is
  accepted in simple expressions;
- update pushes a new commit with the newly rendered tree; the repository is never deleted and recreated;
- a failed first push deletes the repository it just created, so nothing is left half made;
- delete removes the repository only when dtm created it, on GitHub, GitLab and git alike: the status
  records it (`created`) and later calls take it from the status dtm stored (`ctx.prior`). A repository that
  existed before (adopted) is left as it is; one already gone is success. The record also holds the
  repository's id on GitHub and GitLab, so one re-made by hand at the same address is not taken for dtm's;
  a local git repository must also still carry the mark the git client gives those it creates;
- the status holds each written file's git blob SHA as the server has it, so a hand edit shows as drift;
- `dtm import KEY ID` adopts an existing repository (ID: `owner/name` on GitHub and GitLab, the URL or path
  of a git remote), recorded as not created by dtm, so delete leaves it; `--owned` records it as dtm's (not
  for a git remote, whose own mark says what dtm created);
- the status holds `commit`, the commit dtm's push made (or the branch's head, when the files were all there
  already and there was nothing to commit).

Read reports that same `commit` for as long as it is on the branch: the head, or an ancestor of it. Later
pushes on top (a CI file another tool writes, a developer's commit) move the head without taking dtm's commit
off the branch, so they are not drift. A rewritten history (a force-push, a branch reset) that leaves dtm's
commit behind is: read then reports `commit` as null (the plan shows `commit: "<sha>" -> null`), and the
update pushes the rendered tree again in a new commit, whose SHA it records (when the rewritten branch holds
the rendered files as they are, there is nothing to commit and it records the head). With no record of a
commit of this repository (no prior status, or one of another repository), read reports null too: dtm has
no commit of its own there to speak of. A record made before dtm kept `commit` reads back without it, as one
made before `created` and `repoID` does; the next update records it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar

from pydantic import Field

from devstream.errors import PermanentError
from devstream.plugin import Plugin, PluginContext, ResourceStatus
from devstream.plugin.base import PluginOptions
from devstream.plugins.scm.base import RepoInfo, RepoSpec, ScmClient, api_systems, git_blob_sha
from devstream.plugins.scm.cifiles import render
from devstream.plugins.scm.factory import scm_client
from devstream.plugins.scm.git import GitClient, is_git_repository, local_path, strip_userinfo
from devstream.plugins.scm.prior import as_recorded
from devstream.repourl import name_from_url, same_origin, web_root

__all__ = ["OUTPUT_KEYS", "RepoScaffoldingOptions", "RepoScaffoldingPlugin", "load_template", "render_template"]

OUTPUT_KEYS = ("repo", "owner", "org", "repoURL", "cloneURL")
# Status fields that records written by earlier versions lack.
_NEWER_FIELDS = ("created", "repoID", "commit")
APP_NAME_PLACEHOLDER = "_app_name_"


class RepoScaffoldingOptions(PluginOptions):
    """The template, the repository made from it, and the template's variables."""

    sourceRepo: str | RepoSpec = Field(
        description="The template: a git URL, a local folder (relative to the config's folder), or a "
                    "repository map (scmType github, gitlab or git) cloned with its token if it has one.",
    )
    destinationRepo: RepoSpec = Field(description="The repository to create and fill with the rendered template.")
    vars: dict[str, Any] = Field(
        default_factory=dict,
        description="Template variables, merged over AppName and Repo (Name, Owner); these win.",
    )


class RepoScaffoldingPlugin(Plugin[RepoScaffoldingOptions]):
    """Creates the destination repository and pushes the rendered template in one commit."""

    name: ClassVar[str] = "repo-scaffolding"
    Options: ClassVar[type[RepoScaffoldingOptions]] = RepoScaffoldingOptions
    description: ClassVar[str] = "A repository created from a template (GitHub, GitLab or any git remote)."
    import_id: ClassVar[str] = "the destination repository: owner/name on GitHub and GitLab, its URL or path for git"

    def create(self, options: RepoScaffoldingOptions, ctx: PluginContext) -> ResourceStatus:
        return self._scaffold(options, ctx, "Scaffold")

    def update(self, options: RepoScaffoldingOptions, ctx: PluginContext) -> ResourceStatus:
        return self._scaffold(options, ctx, "Update")

    def read(self, options: RepoScaffoldingOptions, ctx: PluginContext) -> ResourceStatus | None:
        dest = options.destinationRepo
        with scm_client(dest, ctx) as client:
            info = client.describe_repo()
            if info is None:
                return None
            paths = _rendered(options, ctx)
            branch = dest.branch or info.default_branch
            on_server = client.list_files("", branch)
            status = _status(dest, info, branch, {p: on_server.get(p) for p in sorted(paths)},
                             _created(ctx, client, info), _recorded_commit(ctx, client, info, branch))
        if ctx.prior is not None and _same_repo(ctx.prior, info):
            return as_recorded(status, ctx.prior, _NEWER_FIELDS)  # an older record: no drift; the update adds them
        return status

    def import_resource(self, resource_id: str, options: RepoScaffoldingOptions, ctx: PluginContext
                        ) -> ResourceStatus | None:
        dest = options.destinationRepo
        if not _names(resource_id, dest, ctx):
            described = dest.url if dest.scmType == "git" else dest.full_name
            raise PermanentError(f"{resource_id} is not the repository {ctx.key} describes ({described}); import "
                                 f"that one, or change destinationRepo in the config")
        if ctx.owned and dest.scmType == "git":
            raise PermanentError(f"{ctx.key}: --owned is not for a git remote: dtm deletes one only when it created "
                                 f"it (and marked it so); import it without --owned")
        status = self.read(options, ctx)
        if status is None:
            return None
        # As create would have pushed them: the next read shows the files that differ from the template as drift.
        rendered = {p: git_blob_sha(data) for p, data in sorted(_rendered(options, ctx).items())}
        return {**status, "files": rendered, "created": ctx.owned}  # who made it: the user says, not read

    def delete(self, options: RepoScaffoldingOptions, ctx: PluginContext) -> None:
        dest = options.destinationRepo
        with scm_client(dest, ctx) as client:
            info = client.describe_repo()
            if info is None:
                return  # already gone
            if _created(ctx, client, info):
                client.delete_repo()
                return
        ctx.logger.warning("%s: %s was not created by dtm (or dtm has no record that it was), so it is left in "
                           "place with its content; delete it yourself if it should go",
                           ctx.key, strip_userinfo(info.html_url))

    def output_keys(self, options: RepoScaffoldingOptions) -> set[str] | None:
        return set(OUTPUT_KEYS)

    def systems(self, options: Mapping[str, Any]) -> set[str]:
        return api_systems(options.get("destinationRepo"))

    def _scaffold(self, options: RepoScaffoldingOptions, ctx: PluginContext, verb: str) -> ResourceStatus:
        """Create the repository if missing, then push the rendered tree as one commit (none if unchanged)."""
        dest = options.destinationRepo
        files = _rendered(options, ctx)  # before anything is created: a broken template changes nothing
        with scm_client(dest, ctx) as client:
            info = client.describe_repo()
            made = info is None
            if info is None:
                # destinationRepo.visibility when given, else DevStream's default for a new repository: public.
                info = client.create_repo(private=False,
                                          description=f"Scaffolded by dtm ({ctx.key}) from {_source_name(options)}")
            branch = dest.branch or info.default_branch
            message = f"{verb} {_repo_name(dest, info)} from {_source_name(options)}\n\nWritten by dtm ({ctx.key})."
            try:
                commit = client.push_files(files, message, branch)
            except Exception:
                if made:  # DevStream left a half-made repository behind; take it away again
                    try:
                        client.delete_repo()
                    except Exception as cleanup:  # the push failure is what the user must see
                        ctx.logger.warning("%s: could not delete the repository after the failed push: %s",
                                           ctx.key, cleanup)
                raise
            created = _created(ctx, client, info, made=made)
        ctx.logger.info("%s: %s is at %s on %s", ctx.key, strip_userinfo(info.html_url), commit[:12], branch)
        shas: dict[str, str | None] = {p: git_blob_sha(data) for p, data in sorted(files.items())}
        return _status(dest, info, branch, shas, created, commit or None)


def _names(resource_id: str, dest: RepoSpec, ctx: PluginContext) -> bool:
    """Whether an import ID names the destination repository: owner/name (case as the server ignores it), or
    for git the same local folder or remote URL."""
    if dest.scmType != "git":
        return resource_id.strip().strip("/").lower() == dest.full_name.lower()
    assert dest.url is not None
    given, described = local_path(resource_id, ctx.workdir), local_path(dest.url, ctx.workdir)
    if given is not None or described is not None:
        return given is not None and described is not None and given.resolve() == described.resolve()
    return strip_userinfo(resource_id).rstrip("/") == strip_userinfo(dest.url).rstrip("/")


def _created(ctx: PluginContext, client: ScmClient, info: RepoInfo, *, made: bool = False) -> bool:
    """Whether dtm created the repository, so that deleting it is safe.

    True when this call created it. Otherwise the record dtm kept of this repository (`created` in the
    prior status) decides; where the client can also tell on its own (git marks the repositories it
    creates), a recorded True needs the mark too, and with no record the mark alone decides. No record
    and no mark: the repository existed before dtm (adopted), False.
    """
    if made:
        return True
    probe = getattr(client, "created_by_dtm", None)
    marked = bool(probe()) if callable(probe) else None
    recorded = ctx.prior.get("created") if ctx.prior is not None and _same_repo(ctx.prior, info) else None
    if not isinstance(recorded, bool):
        return bool(marked)
    return recorded and marked is not False


def _recorded_commit(ctx: PluginContext, client: ScmClient, info: RepoInfo, branch: str) -> str | None:
    """The commit dtm recorded for this repository while it is still on the branch (the head or an ancestor of
    it), so that commits pushed on top are not drift; None when history was rewritten without it, or when
    there is no record of a commit of this repository."""
    if ctx.prior is None or not _same_repo(ctx.prior, info):
        return None
    recorded = ctx.prior.get("commit")
    if not isinstance(recorded, str) or not recorded:
        return None
    return recorded if client.commit_on_branch(recorded, branch) else None


def _same_repo(prior: ResourceStatus, info: RepoInfo) -> bool:
    """Whether the prior status is about this repository.

    A changed destinationRepo makes it another's; so does a new id at the same address (GitHub and GitLab
    give every repository its own): dtm's repository was deleted outside dtm and someone made one by hand.
    """
    if prior.get("repoURL") != strip_userinfo(info.html_url):
        return False
    return "repoID" not in prior or prior["repoID"] == info.id


def _repo_name(spec: RepoSpec, info: RepoInfo | None = None) -> str:
    if spec.name:
        return spec.name
    if info is not None:
        return info.full_name.rsplit("/", 1)[-1]
    return name_from_url(strip_userinfo(spec.url or "repo"))


def _status(spec: RepoSpec, info: RepoInfo, branch: str, files: dict[str, str | None],
            created: bool, commit: str | None) -> ResourceStatus:
    outputs = {"repo": _repo_name(spec, info), "owner": spec.owner or "", "org": spec.org or "",
               "repoURL": strip_userinfo(info.html_url), "cloneURL": strip_userinfo(info.clone_url)}
    status: ResourceStatus = {**outputs, "branch": branch, "files": files, "created": created, "commit": commit}
    if info.id is not None:  # GitHub and GitLab; a plain git remote has no id
        status["repoID"] = info.id
    return {**status, "outputs": outputs}


def _source_name(options: RepoScaffoldingOptions) -> str:
    source = options.sourceRepo
    if isinstance(source, str):
        return strip_userinfo(source)
    return strip_userinfo(source.url) if source.url else source.full_name


def _rendered(options: RepoScaffoldingOptions, ctx: PluginContext) -> dict[str, bytes]:
    dest = options.destinationRepo
    name = _repo_name(dest)
    variables: dict[str, Any] = {"AppName": name, "Repo": {"Name": name, "Owner": dest.namespace}}
    variables.update(options.vars)
    return render_template(load_template(options.sourceRepo, ctx), variables, name, _source_name(options))


def load_template(source: str | RepoSpec, ctx: PluginContext) -> dict[str, bytes]:
    """Every file of the template (path -> content), `.git/` left out.

    A local folder is read as it is on disk (a git work tree included, uncommitted changes and all); a local
    bare repository and every remote are read through git, GitHub and GitLab ones from their https URL.
    """
    spec = _as_git(source) if isinstance(source, str) or source.scmType != "git" else source
    assert spec.url is not None
    folder = local_path(spec.url, ctx.workdir)
    if folder is not None:
        if not folder.is_dir():
            raise PermanentError(f"template {strip_userinfo(spec.url)}: no such folder ({folder})")
        bare = is_git_repository(folder) and not (folder / ".git").exists()
        if not bare:
            return _read_folder(folder)
    with GitClient(spec, ctx) as client:
        return client.read_tree(spec.branch)


def _as_git(source: str | RepoSpec) -> RepoSpec:
    """A template's location as a plain git remote (GitHub and GitLab by their https clone URL, on the server
    the options name: `baseURL`, or the one `apiURL` belongs to, else github.com or gitlab.com).

    The token goes with the server it was given for: a `url` on another server than `baseURL`/`apiURL`
    name is refused rather than sent the token.
    """
    if isinstance(source, str):
        if not source.strip():
            raise PermanentError("sourceRepo is empty: give a git URL or a template folder")
        return RepoSpec(scmType="git", url=source)
    server = web_root(source.scmType, source.baseURL, source.apiURL)
    url = source.url
    if not url:
        if not (source.namespace and source.name):
            raise PermanentError(f"sourceRepo ({source.scmType}) needs `url`, or `owner` (or `org`) and `name`")
        url = f"{server}/{source.namespace}/{source.name}.git"
    elif source.token is not None and (source.baseURL or source.apiURL) and not same_origin(url, server):
        raise PermanentError(f"sourceRepo: url {strip_userinfo(url)} is not on {server}, the server its "
                             f"{'baseURL' if source.baseURL else 'apiURL'} names and its token is for; dtm does not "
                             f"send the token elsewhere: make them agree, or drop the url")
    return RepoSpec(scmType="git", url=url, branch=source.branch, token=source.token,
                    sshPrivateKey=source.sshPrivateKey, name=source.name, owner=source.owner, org=source.org)




def _read_folder(root: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if ".git" in rel.parts or not path.is_file():
            continue
        out[rel.as_posix()] = path.read_bytes()
    return out


def render_template(tree: dict[str, bytes], variables: dict[str, Any], app_name: str,
                    where: str) -> dict[str, bytes]:
    """The repository's files from the template's, as DevStream rendered them (see the module docstring)."""
    out: dict[str, bytes] = {}
    origin: dict[str, str] = {}
    for rel, data in sorted(tree.items()):
        if ".git" in PurePosixPath(rel).parts:
            continue
        target = rel.replace(APP_NAME_PLACEHOLDER, app_name).removesuffix(".tpl")
        content = data
        if "tpl" in rel:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise PermanentError(f"template {where}: {rel} has `tpl` in its path but is not UTF-8 text, so it "
                                     f"cannot be rendered; rename it") from None
            content = render(text, variables, f"template {where}: {rel}").encode("utf-8")
        if target in out:
            raise PermanentError(f"template {where}: {origin[target]} and {rel} both become {target}; "
                                 f"remove one of them")
        out[target], origin[target] = content, rel
    if not out:
        raise PermanentError(f"template {where} has no files")
    return out
