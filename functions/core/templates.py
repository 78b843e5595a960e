"""Message templates as files: `templates/messages/{template_id}/{channel}.{locale}.{ext}`.

File format (UTF-8)::

    ---
    purpose: First reminder, 1 day past due      # required, for reviewers
    subject: "Your {{ company_name }} payment"    # email only (required there), a template too
    title: "{{ company_name }}: payment due"       # push only (required there), a template too
    initial_contact: true                         # profile flags (default false)
    legal_action_intended: false
    profile: US                                   # optional; default from the locale region
    ---
    <body>

The channel registry (functions.core.channels) says each channel's extension, heading and
parts. SMS (`sms.{locale}.txt`): the body is the message text. Email (`email.{locale}.html`):
the body is the HTML part, then a line `---text---`, then the plain-text part. Both parts are
written by hand so that the exact words of each part are what gets approved. Push
(`push.{locale}.txt`): the `title` in the front matter, the body is the notification text.

The version of a template is the content hash of the whole file (front matter included):
the first 12 hex digits of SHA-256 over its exact UTF-8 bytes. Changing one character makes
a new version that needs a new approval (docs/user-stories.md, story 10).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from functions.core.channels import BodyRule, Channel, spec
from functions.core.config_files import NotYaml, parse_yaml
from functions.core.errors import RungError

TEMPLATE_ID = re.compile(r"^[a-z0-9_]+$")  # same pattern as ladders' `template`
LOCALE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
TEXT_SEPARATOR = "---text---"
HASH_LENGTH = 12  # 48 bits: ample for the handful of versions one template ever has


class TemplateError(RungError):
    """A template file is misnamed or malformed; the message names the file and the reason."""


class FrontMatter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    purpose: str
    subject: str | None = None
    title: str | None = None
    initial_contact: bool = False
    legal_action_intended: bool = False
    profile: str | None = None


class MessageTemplate(BaseModel):
    """One parsed template file: the unit that is pushed, linted, approved and rendered."""

    model_config = ConfigDict(frozen=True)

    template_id: str
    channel: Channel
    locale: str
    version: str
    source: str
    front: FrontMatter
    body: str  # SMS or push text, or the email's HTML part
    text: str | None = None  # the email's text part

    @property
    def heading(self) -> str | None:
        """The source of the heading (email subject, push title); None on channels without."""
        field = spec(self.channel).heading
        return str(getattr(self.front, field) or "") if field else None

    @property
    def file(self) -> str:
        return file_name(self.template_id, self.channel, self.locale)

    @property
    def region(self) -> str:
        return self.locale.split("-")[1]


@dataclass(frozen=True)
class TemplateFile:
    template_id: str
    channel: Channel
    locale: str
    path: Path
    source: str


def content_hash(source: str) -> str:
    """Version of a template: SHA-256 of the exact UTF-8 bytes, first 12 hex digits."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:HASH_LENGTH]


def file_name(template_id: str, channel: Channel, locale: str) -> str:
    return f"{template_id}/{channel.value}.{locale}.{spec(channel).extension}"


def parse_template(
    template_id: str,
    channel: Channel | str,
    locale: str,
    source: str,
    version: str | None = None,
) -> MessageTemplate:
    """Parse one template file's text. `version`, when given (a stored version), must be the
    content hash of `source`: the words rendered are provably the words approved."""
    channel = _channel(channel, f"{template_id}: ")
    where = file_name(template_id, channel, locale)
    digest = content_hash(source)
    if version is not None and version != digest:
        raise TemplateError(f"{where}@{version}: stored source hashes to {digest}, not {version}")
    if not TEMPLATE_ID.match(template_id):
        raise TemplateError(f"{where}: template id must match {TEMPLATE_ID.pattern}")
    if not LOCALE.match(locale):
        raise TemplateError(f"{where}: locale must look like en-US (language-REGION)")
    front_raw, body = _split_front_matter(source, where)
    try:
        loaded = parse_yaml(front_raw)
        front = FrontMatter.model_validate(loaded if loaded is not None else {})
    except NotYaml as exc:
        raise TemplateError(f"{where}: front matter is not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise TemplateError(f"{where}: front matter: {_first_error(exc)}") from exc
    text: str | None = None
    shape = spec(channel)
    for heading in ("subject", "title"):
        value = getattr(front, heading)
        if heading != shape.heading and value is not None:
            raise TemplateError(
                f"{where}: front matter: {shape.channel} templates have no {heading}"
            )
        if heading == shape.heading and not (value or "").strip():
            raise TemplateError(
                f"{where}: front matter: {shape.channel} templates need a {heading}"
            )
    if shape.body_rule is BodyRule.PARTS:
        body, text = _split_email(body, where)  # the body is the HTML part
    elif not body.strip():
        raise TemplateError(f"{where}: the message text is empty")
    return MessageTemplate(
        template_id=template_id,
        channel=channel,
        locale=locale,
        version=digest,
        source=source,
        front=front,
        body=body,
        text=text,
    )


def _channel(value: Channel | str, where: str) -> Channel:
    try:
        return Channel(value)
    except ValueError as exc:
        known = ", ".join(c.value for c in Channel)
        raise TemplateError(f"{where}unknown channel {value!r} ({known})") from exc


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"]) or "(root)"
    return f"{field}: {error['msg']}"


def _split_front_matter(source: str, where: str) -> tuple[str, str]:
    lines = source.splitlines(keepends=True)
    if not lines or lines[0].rstrip("\r\n") != "---":
        raise TemplateError(f"{where}: must start with a front matter block opened by '---'")
    for index, line in enumerate(lines[1:], start=1):
        if line.rstrip("\r\n") == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :])
    raise TemplateError(f"{where}: front matter is not closed by a '---' line")


def _split_email(body: str, where: str) -> tuple[str, str]:
    lines = body.splitlines(keepends=True)
    marks = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == TEXT_SEPARATOR]
    if len(marks) != 1:
        raise TemplateError(
            f"{where}: an email needs exactly one {TEXT_SEPARATOR!r} line between its HTML "
            f"and text parts (found {len(marks)})"
        )
    html, text = "".join(lines[: marks[0]]), "".join(lines[marks[0] + 1 :])
    if not html.strip() or not text.strip():
        raise TemplateError(f"{where}: both the HTML and the text part must be non-empty")
    return html, text


_FILE_NAME = re.compile(r"^(?P<channel>[a-z]+)\.(?P<locale>[^.]+)\.(?P<ext>[a-z]+)$")


def template_file(path: Path) -> TemplateFile:
    """Validate one path `{template_id}/{channel}.{locale}.{ext}` and read it (exact bytes)."""
    template_id = path.parent.name
    where = f"{template_id}/{path.name}"
    match = _FILE_NAME.match(path.name)
    if not match:
        raise TemplateError(f"{where}: file name must be {{channel}}.{{locale}}.{{ext}}")
    if not TEMPLATE_ID.match(template_id):
        raise TemplateError(f"{where}: folder (template id) must match {TEMPLATE_ID.pattern}")
    channel = _channel(match["channel"], f"{where}: ")
    if not LOCALE.match(match["locale"]):
        raise TemplateError(f"{where}: locale {match['locale']!r} must look like en-US")
    extension = spec(channel).extension
    if match["ext"] != extension:
        raise TemplateError(f"{where}: a {channel.value} template ends in .{extension}")
    try:
        source = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"{where}: not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    return TemplateFile(template_id, channel, match["locale"], path, source)


def discover(root: Path) -> list[TemplateFile]:
    """Every template file under `root`: a templates root, one template folder, or one file.

    Hidden files are ignored; any other misnamed file is an error (never silently skipped),
    and every bad path is named in one TemplateError.
    """
    if root.is_file():
        return [template_file(root)]
    if not root.is_dir():
        raise TemplateError(f"{root}: no such template file or folder")
    folders = (
        [root]
        if any(_visible_files(root))
        else sorted(
            child for child in root.iterdir() if child.is_dir() and not child.name.startswith(".")
        )
    )
    found: list[TemplateFile] = []
    problems: list[str] = []
    for folder in folders:
        for path in _visible_files(folder):
            try:
                found.append(template_file(path))
            except TemplateError as exc:
                problems.append(str(exc))
    if problems:
        raise TemplateError("; ".join(problems))
    return found


def _visible_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def load(file: TemplateFile) -> MessageTemplate:
    return parse_template(file.template_id, file.channel, file.locale, file.source)
