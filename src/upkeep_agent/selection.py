"""Which patches a request selects: the one implementation, for every OS.

The server imports this module (to validate requests with the same vocabulary) and the
agent runs it (to decide what to install). Standard library only, Python >= 3.8.

Linux (``linuxParameters``), following Azure's documented semantics:

- ``classificationsToInclude``: ``Critical`` and ``Security`` are one bucket on Linux (the
  package managers know "security", a few also "critical"); ``Other`` is every update that
  is not in it.
- ``packageNameMasksToInclude`` adds packages by glob (``kernel*``), matched against the name
  with or without the architecture; ``name=version`` selects only that new version.
- ``packageNameMasksToExclude`` beats everything, ignores ``=version``, and also excludes an
  update whose installation would bring in or upgrade an excluded package.
- No classification and no include mask selects everything.

Windows (``windowsParameters``): classifications select by update category;
``kbNumbersToInclude`` adds KBs; ``kbNumbersToExclude`` beats both; ``excludeKbsRequiringReboot``
drops every update that may need a reboot; ``maxPatchPublishDate`` drops updates published
later.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime
from typing import Callable, Dict, Iterable, List, NamedTuple, Optional, Tuple

# --- vocabularies: every accepted spelling (lowercase) -> what it means ------------------

LINUX_CLASSIFICATIONS = {
    "critical": "Critical",
    "security": "Security",
    "other": "Other",
    "others": "Other",  # Resource Graph's spelling
}
WINDOWS_CLASSIFICATIONS = {
    "critical": "Critical",
    "security": "Security",
    "updaterollup": "UpdateRollup",
    "featurepack": "FeaturePack",
    "servicepack": "ServicePack",
    "definition": "Definition",
    "tools": "Tools",
    "updates": "Updates",
}
#: Windows Update's category names as updates report them -> the classification.
WINDOWS_CATEGORIES = {
    "critical updates": "Critical",
    "security updates": "Security",
    "update rollups": "UpdateRollup",
    "feature packs": "FeaturePack",
    "service packs": "ServicePack",
    "definition updates": "Definition",
    "tools": "Tools",
    "updates": "Updates",
}
REBOOT_SETTINGS = {
    "ifrequired": "IfRequired",
    "never": "Never",
    "neverreboot": "Never",
    "always": "Always",
    "alwaysreboot": "Always",
}
SECURITY_BUCKET = ("Critical", "Security")

_MASK = re.compile(r"^[A-Za-z0-9*?][A-Za-z0-9.+_:~*?=\-^]*$")
_KB = re.compile(r"^(KB)?(\d{1,12})$", re.IGNORECASE)
_INSTANT = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|z|[+-]\d{2}:\d{2})$")

# per-patch decisions before installation
PENDING = "Pending"
NOT_SELECTED = "NotSelected"
EXCLUDED = "Excluded"


def canonical(vocabulary: Dict[str, str], value: str) -> Optional[str]:
    """What a spelling means, or None when it is not in the vocabulary."""
    return vocabulary.get(value.strip().lower())


def valid_mask(mask: str) -> bool:
    """A package name mask: letters, digits, ``.+_:~-^``, wildcards ``*?``, and ``=version``."""
    return bool(_MASK.match(mask))


def kb_number(value: str) -> Optional[str]:
    """``KB5034439`` or ``5034439`` -> ``5034439``; None when it is not a KB number."""
    found = _KB.match(value.strip())
    return found.group(2) if found else None


class Patch(NamedTuple):
    """An available update, as an assessment found it."""

    name: str
    version: str  # the version it would install
    classification: str  # Critical | Security | Other, or a Windows classification
    current_version: Optional[str] = None
    arch: Optional[str] = None
    kb_id: Optional[str] = None
    reboot_behavior: str = "CanRequestReboot"  # NeverReboots | AlwaysRequiresReboot | …
    published: Optional[datetime] = None
    advisories: Tuple[str, ...] = ()  # the security advisories (errata, patches) naming it
    severity: Optional[str] = None  # their severity, as the distribution rates it
    cves: Tuple[str, ...] = ()

    @property
    def patch_id(self) -> str:
        if self.kb_id:
            return "KB" + self.kb_id
        return "{}_{}".format(self.name, self.version)


#: Names of the packages installing a patch would add or upgrade (the patch's own included).
Dependencies = Callable[[Patch], Iterable[str]]


class Decision(NamedTuple):
    state: str  # Pending | NotSelected | Excluded
    reason: str = ""


def select_linux(
    patches: List[Patch], parameters: Dict[str, object], dependencies: Optional[Dependencies] = None
) -> Dict[str, Decision]:
    """Decide, per patch id, whether a Linux request installs it."""
    classes = {
        canonical(LINUX_CLASSIFICATIONS, str(value))
        for value in _strings(parameters.get("classificationsToInclude"))
    }
    includes = [_split_mask(mask) for mask in _strings(parameters.get("packageNameMasksToInclude"))]
    excludes = [
        _split_mask(mask)[0] for mask in _strings(parameters.get("packageNameMasksToExclude"))
    ]
    everything = not classes and not includes
    decisions = {}  # type: Dict[str, Decision]
    for patch in patches:
        if _matches_any(patch, excludes):
            decisions[patch.patch_id] = Decision(EXCLUDED, "matches an exclude mask")
        elif (
            everything
            or (classes & set(SECURITY_BUCKET) and patch.classification in SECURITY_BUCKET)
            or ("Other" in classes and patch.classification not in SECURITY_BUCKET)
            or _included(patch, includes)
        ):
            decisions[patch.patch_id] = Decision(PENDING)
        else:
            decisions[patch.patch_id] = Decision(NOT_SELECTED)
    if excludes and dependencies is not None:
        for patch in patches:
            if decisions[patch.patch_id].state != PENDING:
                continue
            dragged = [name for name in dependencies(patch) if _name_matches(name, None, excludes)]
            if dragged:
                reason = "would also install or upgrade excluded {}".format(
                    ", ".join(sorted(dragged))
                )
                decisions[patch.patch_id] = Decision(EXCLUDED, reason)
    return decisions


def select_windows(patches: List[Patch], parameters: Dict[str, object]) -> Dict[str, Decision]:
    """Decide, per patch id, whether a Windows request installs it."""
    classes = {
        canonical(WINDOWS_CLASSIFICATIONS, str(value))
        for value in _strings(parameters.get("classificationsToInclude"))
    }
    included = {kb_number(value) for value in _strings(parameters.get("kbNumbersToInclude"))}
    excluded = {kb_number(value) for value in _strings(parameters.get("kbNumbersToExclude"))}
    no_reboot = bool(parameters.get("excludeKbsRequiringReboot"))
    latest = parameters.get("maxPatchPublishDate")
    latest_date = parse_time(str(latest)) if latest else None
    decisions = {}  # type: Dict[str, Decision]
    for patch in patches:
        if patch.kb_id in excluded:
            decision = Decision(EXCLUDED, "KB listed in kbNumbersToExclude")
        elif no_reboot and patch.reboot_behavior != "NeverReboots":
            decision = Decision(EXCLUDED, "may require a reboot")
        elif latest_date and patch.published and patch.published > latest_date:
            decision = Decision(EXCLUDED, "published after maxPatchPublishDate")
        elif patch.classification in classes or patch.kb_id in included:
            decision = Decision(PENDING)
        else:
            decision = Decision(NOT_SELECTED)
        decisions[patch.patch_id] = decision
    return decisions


def parse_time(text: str) -> datetime:
    """An RFC 3339 instant, e.g. ``2020-11-19T02:36:43.0539904+00:00`` or ``…Z``; fractions
    beyond microseconds (Azure writes seven digits) are dropped. ``ValueError`` otherwise."""
    found = _INSTANT.match(text.strip())
    if not found:
        raise ValueError("'{}' is not an RFC 3339 date and time".format(text))
    moment, fraction, zone = found.groups()
    if zone in ("Z", "z"):
        zone = "+00:00"
    parsed = datetime.fromisoformat(moment + (fraction or "")[:7] + zone)
    if parsed.tzinfo is None:
        raise ValueError("'{}' has no time zone".format(text))
    return parsed


def _strings(value: object) -> List[str]:
    return [str(item) for item in value] if isinstance(value, list) else []


def _split_mask(mask: str) -> Tuple[str, Optional[str]]:
    name, _, version = mask.partition("=")
    return name, version or None


def _included(patch: Patch, includes: List[Tuple[str, Optional[str]]]) -> bool:
    return any(
        _name_matches(patch.name, patch.arch, [glob])
        and (version is None or version == patch.version)
        for glob, version in includes
    )


def _matches_any(patch: Patch, globs: List[str]) -> bool:
    return _name_matches(patch.name, patch.arch, globs)


def _name_matches(name: str, arch: Optional[str], globs: List[str]) -> bool:
    candidates = (
        [name] if not arch else [name, "{}.{}".format(name, arch), "{}:{}".format(name, arch)]
    )
    return any(fnmatch.fnmatchcase(candidate, glob) for glob in globs for candidate in candidates)


def installable_order(patches: List[Patch], decisions: Dict[str, Decision]) -> List[Patch]:
    """The selected patches, security first, then by name (a stable, explainable order)."""
    chosen = [patch for patch in patches if decisions[patch.patch_id].state == PENDING]
    return sorted(
        chosen, key=lambda patch: (patch.classification not in SECURITY_BUCKET, patch.name)
    )
