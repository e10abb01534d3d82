"""The people the puppet and half-mask attacks impersonate, and a gallery with them enrolled (issue 28 item 6).

As the outside test did: each victim is enrolled from photos the attack does not use, and the attack is built
from a held-out photo of them. LFW people (../shared/data/lfw) are enrolled from three of their first photos; the
held-out photo was chosen (FaceMesh on every photo, once; Colin Powell's 2nd and 3rd photos are refused by the
gallery, a crowd and a blurred face, so his next two are used) as frontal with the mouth closed (Mesh.mouth_opening
<= 0.05, |yaw| <= 0.15): a puppet opens the mouth of its photo, and a photo of an open mouth is never "closed" for
the check. Barack Obama is enrolled from clips/obama.jpg as in facegate_dev.attacks.impersonated_gallery; his
other photo, clips/obama2.jpg, shows an open mouth: a half mask cuts it away, a puppet cannot use it.

The wearer of the half mask, Lin-Manuel Miranda (the real clip), is not enrolled: the attacker is a stranger to
the kiosk.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from facegate_dev.datasets import clips_dir, lfw_dir


@dataclass(frozen=True)
class Victim:
    name: str  # as enrolled
    enrolled: tuple[Path, ...]
    photo: Path  # the held-out photo the attack is made from


def _lfw(name: str, enrolled: tuple[int, ...], held_out: int) -> Victim | None:
    root = lfw_dir()
    if root is None:
        return None
    folder = root / "images" / name
    return Victim(name.replace("_", " "), tuple(folder / f"{name}_{n:04d}.jpg" for n in enrolled),
                  folder / f"{name}_{held_out:04d}.jpg")


def puppet_victims() -> list[Victim]:
    """Victims whose held-out photo has a closed mouth and looks at the camera (LFW)."""
    found = [_lfw("Colin_Powell", (40, 95, 133), 198), _lfw("Jean_Chretien", (2, 6, 8), 52),
             _lfw("Tony_Blair", (18, 32, 48), 53)]
    return [v for v in found if v is not None]


def half_mask_victims() -> list[Victim]:
    """Victims for the half mask: Barack Obama (obama2.jpg, his mouth open: it is cut away) and the LFW ones."""
    clips = clips_dir()
    out = [] if clips is None else [Victim("Barack Obama", (clips / "obama.jpg",), clips / "obama2.jpg")]
    return out + puppet_victims()


def victim_gallery(engine, folder: Path, victims: list[Victim] | None = None):
    """A gallery in `folder` (made) with `victims` enrolled from their enrollment photos (default: every victim of
    both attacks)."""
    from facegate.gallery import Gallery

    victims = victims if victims is not None else half_mask_victims()
    for victim in victims:
        person = folder / victim.name
        person.mkdir(parents=True, exist_ok=True)
        for photo in victim.enrolled:
            shutil.copy(photo, person / photo.name)
            (person / photo.name).chmod(0o600)  # the shared data is read-only; the copy must not be
    gallery = Gallery(folder, engine)
    gallery.refresh()
    return gallery
