"""Apps and pipelineTemplates, expanded into tools as DevStream v0.12 did.

An app names a repository, the template it is scaffolded from, and its CI and CD pipelines. It becomes:

- a `repo-scaffolding` tool when `repoTemplate` is set (DevStream dropped `repoTemplate.vars`; they are
  passed through here);
- besides DevStream's github and gitlab repositories, `scmType: git` takes any git remote by its `url`
  (file://, ssh://, https://...x.git, or a local path relative to the config's folder); a `url` that is
  a local path (`./x`, `../x`, `/x`, `~/x`, `file:...`, or `x/y` whose first part is no host name) means
  `scmType: git` without saying so, which lets a `repoTemplate` be a template folder beside the config;
- one tool per `ci`/`cd` entry, named after the pipeline's type. A `type: template` entry renders a
  pipelineTemplate with the global vars, then the app's (`language`, `framework`, `appName`), then the
  entry's own `vars`, and deep-merges the entry's `options` over the template's.

Every generated tool has the app's name as instanceID, depends on the app's repo-scaffolding tool (if any)
and on every top-level tool, as DevStream did; a `cd` tool also depends on the app's `ci` tools (both commit
to the app's repository, and the Application deploys what CI builds), so an apply makes the repository, then
CI, then the Application, and a destroy takes them away in the reverse order.

A generated tool's options take the shape its plugin says (`Plugin.options_for_app`: the CI plugins put the
entry's options under `pipeline` and the app's repository under `scm`, argocdapp fills in DevStream's
Application defaults); this layer knows no plugin's options. The repository's rules (owner, name and
scmType read from its `url`, default branch, clone URL) are devstream.repourl's, which the plugins use too;
the sections' models are in app_models.py.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError

from devstream.config.app_models import App, Pipeline, PipelineTemplate
from devstream.config.checks import RFC1123_RULE, Origin, is_rfc1123_subdomain, validation_issues
from devstream.config.merge import Entry
from devstream.config.models import ToolSpec
from devstream.config.render import Renderer, part_from_data, render_tree, reserved_var
from devstream.config.source import has_template
from devstream.errors import ConfigError, Issue, PluginError, RepoURLError
from devstream.plugin.apps import AppInfo, deep_merge
from devstream.plugin.registry import PluginRegistry, default_registry
from devstream.repourl import normalise_repo

__all__ = [
    "CD_TYPES",
    "CI_TYPES",
    "REPO_SCAFFOLDING",
    "TEMPLATE_TYPES",
    "AppExpander",
    "deep_merge",
    "expand_apps",
]

CI_TYPES = ("template", "github-actions", "gitlab-ci", "jenkins-pipeline", "ci-generic")
CD_TYPES = ("template", "argocdapp")
TEMPLATE_TYPES = ("github-actions", "gitlab-ci", "jenkins-pipeline", "ci-generic", "argocdapp")
REPO_SCAFFOLDING = "repo-scaffolding"
# DevStream's docs wrote `type: github` in repos; the key is `scmType`.
_HINTS = {"type": "a repo's kind is `scmType` (github or gitlab)"}


class AppExpander:
    """Expands apps into tools against a set of pipelineTemplates; problems gather in `issues`."""

    def __init__(self, templates: Sequence[Entry], vars: Mapping[str, Any], renderer: Renderer,
                 after: Sequence[str] = (), *, registry: PluginRegistry | None = None):
        self.vars = vars
        self.registry = registry or default_registry()  # where the plugins shaping the tools' options are
        self.renderer = renderer
        self.after = list(after)
        self.issues: list[Issue] = []
        self.templates: dict[str, Entry] = {}
        for entry in templates:
            self._add_template(entry)

    def _add_template(self, entry: Entry) -> None:
        try:
            template = PipelineTemplate.model_validate(entry.value)
        except ValidationError as exc:
            self.issues.extend(validation_issues(exc, entry.part, entry.path))
            return
        if not has_template(template.type) and template.type not in TEMPLATE_TYPES:
            self.issues.append(entry.part.issue(f"pipelineTemplate type {template.type!r} is not supported; use "
                                                f"one of: {', '.join(TEMPLATE_TYPES)}", (*entry.path, "type")))
            return
        if template.name in self.templates:
            first = self.templates[template.name]
            self.issues.append(entry.part.issue(f"pipelineTemplate {template.name!r} is defined twice: here and "
                                                f"at {first.where()}; rename one", (*entry.path, "name")))
            return
        self.templates[template.name] = entry

    def expand(self, entry: Entry) -> list[tuple[ToolSpec, Origin]]:
        """The tools of one (already rendered) app; [] when it has problems (see `issues`)."""
        part, path = entry.part, entry.path
        try:
            app = App.model_validate(entry.value)
        except ValidationError as exc:
            self.issues.extend(validation_issues(exc, part, path, hints=_HINTS))
            return []
        before = len(self.issues)
        if not is_rfc1123_subdomain(app.name):
            self.issues.append(part.issue(f"app name {app.name!r} must be {RFC1123_RULE}, because it becomes "
                                          f"the instanceID of the app's tools", (*path, "name")))
        repo = self._repo(app.repo.model_dump(exclude_none=True), app.name, (*path, "repo"), entry)
        source = None
        if app.repoTemplate is not None:
            raw = app.repoTemplate.model_dump(exclude_none=True, exclude={"vars"})
            source = self._repo(raw, None, (*path, "repoTemplate"), entry, template=True)
        if repo is None:
            return []

        origin = Origin(part, path, generated=True)
        tools: list[ToolSpec] = []
        scaffolding: list[str] = []  # what the pipelines wait for besides the top-level tools
        if app.repoTemplate is not None and source is not None:
            tools.append(ToolSpec(name=REPO_SCAFFOLDING, instanceID=app.name, dependsOn=list(self.after),
                                  options={"destinationRepo": copy.deepcopy(repo), "sourceRepo": source,
                                           "vars": copy.deepcopy(app.repoTemplate.vars or {})}))
            scaffolding = [tools[0].key]
        image_repo: Any = None
        ci_tools: list[str] = []  # CD waits for CI: both commit to the app's repository, CI first
        pipelines = [("ci", j, p) for j, p in enumerate(app.ci or [])]
        pipelines += [("cd", j, p) for j, p in enumerate(app.cd or [])]
        for section, j, pipeline in pipelines:
            made = self._pipeline(app, section, pipeline, (*path, section, j), entry)
            if made is None:
                continue
            plugin, options = made
            if section == "ci" and options.get("imageRepo") is not None:
                image_repo = options["imageRepo"]  # a later argocdapp deploys the image CI builds
            final = self._plugin_options(plugin, options, app, repo, image_repo)
            waits = scaffolding + (ci_tools if section == "cd" else []) + self.after
            tool = ToolSpec(name=plugin, instanceID=app.name, dependsOn=list(dict.fromkeys(waits)), options=final)
            if section == "ci":
                ci_tools.append(tool.key)
            tools.append(tool)
        if len(self.issues) > before:
            return []  # the problems are reported; half an app would only add follow-on errors
        return [(t, origin) for t in tools]

    def _repo(self, raw: dict[str, Any], default_name: str | None, path: tuple[Any, ...],
              entry: Entry, template: bool = False) -> dict[str, Any] | None:
        try:
            return normalise_repo(raw, default_name=default_name, template=template)
        except RepoURLError as problem:
            self.issues.append(entry.part.issue(problem.message, (*path, problem.field)))
            return None

    def _pipeline(self, app: App, section: str, pipeline: Pipeline, path: tuple[Any, ...],
                  entry: Entry) -> tuple[str, dict[str, Any]] | None:
        """(plugin name, pipeline options) of one ci/cd entry."""
        allowed = CI_TYPES if section == "ci" else CD_TYPES
        if pipeline.type not in allowed:
            self.issues.append(entry.part.issue(f"{section} type {pipeline.type!r} is not supported; "
                                                f"use one of: {', '.join(allowed)}", (*path, "type")))
            return None
        if pipeline.type != "template":
            return pipeline.type, copy.deepcopy(pipeline.options or {})
        if not pipeline.templateName:
            self.issues.append(entry.part.issue("`templateName` is required with `type: template`: the name of "
                                                "one of the pipelineTemplates", path))
            return None
        template = self.templates.get(pipeline.templateName)
        if template is None:
            defined = ", ".join(sorted(self.templates)) or "none"
            self.issues.append(entry.part.issue(f"pipelineTemplate {pipeline.templateName!r} is not defined "
                                                f"(defined: {defined}); add it under `pipelineTemplates` or fix "
                                                f"the name", (*path, "templateName")))
            return None
        reserved = [(name, why) for name in pipeline.vars or {} if (why := reserved_var(name)) is not None]
        for name, why in reserved:
            self.issues.append(entry.part.issue(why, (*path, "vars", name)))
        if reserved:
            return None
        context = {**self.vars, "language": app.spec.language, "framework": app.spec.framework,
                   "appName": app.name, **(pipeline.vars or {})}
        problems: list[Issue] = []
        rendered = render_tree(template.value, template.path, template.part, self.renderer, context, problems)
        used_by = f"(pipelineTemplate used by app {app.name!r} at {entry.part.file}:{entry.part.line_of(path)}) "
        self.issues.extend(Issue(used_by + i.message, i.file, i.line, i.field) for i in problems)
        if problems:
            return None
        kind = rendered.get("type")
        wanted = [t for t in allowed if t != "template"]
        if kind not in wanted:
            self.issues.append(template.part.issue(
                f"{used_by}type {kind!r} cannot be used in {section}; a {section} template's type is one of: "
                f"{', '.join(wanted)}", (*template.path, "type")))
            return None
        return kind, deep_merge(copy.deepcopy(rendered.get("options") or {}), pipeline.options or {})

    def _plugin_options(self, plugin: str, options: dict[str, Any], app: App, repo: dict[str, Any],
                        image_repo: Any) -> dict[str, Any]:
        """The generated tool's options in the shape its plugin takes: the plugin says (`options_for_app`)."""
        # A registry made for tests may hold only its own plugins: the installed ones say the others' shapes.
        registry = self.registry if plugin in self.registry else default_registry()
        try:
            plugin_class = registry.plugin_class(plugin)
        except PluginError:
            return options  # the tool's plugin is reported with the tool, where its options are checked
        info = AppInfo(name=app.name, language=app.spec.language, framework=app.spec.framework,
                       repo=copy.deepcopy(repo), image_repo=copy.deepcopy(image_repo))
        return plugin_class.options_for_app(options, info)


def expand_apps(apps: Sequence[Mapping[str, Any]], pipeline_templates: Sequence[Mapping[str, Any]] = (),
                vars: Mapping[str, Any] | None = None, *, after: Sequence[str] = (),
                environ: Mapping[str, str] | None = None, registry: PluginRegistry | None = None) -> list[ToolSpec]:
    """The tools that `apps` expand into, given as Python data (the `apps` and `pipelineTemplates` sections).

    `vars` are the (resolved) global vars; `after` the keys of the top-level tools every app tool
    depends on; `registry` where the plugins that shape their tools' options are (the installed ones by
    default). Raises ConfigError listing every problem found.
    """
    renderer = Renderer(os.environ if environ is None else environ)
    vars = dict(vars or {})
    app_part = part_from_data({"apps": list(apps)}, "<apps>")
    template_part = part_from_data({"pipelineTemplates": list(pipeline_templates)}, "<pipelineTemplates>")
    issues: list[Issue] = []
    rendered = render_tree(app_part.data["apps"], ("apps",), app_part, renderer, vars, issues)
    expander = AppExpander([Entry(template_part, ("pipelineTemplates", j), t)
                            for j, t in enumerate(template_part.data["pipelineTemplates"])], vars, renderer, after,
                            registry=registry)
    tools = [t for i, app in enumerate(rendered) for t, _ in expander.expand(Entry(app_part, ("apps", i), app))]
    issues.extend(expander.issues)
    if issues:
        raise ConfigError(issues)
    return tools
