"""What ingest does to a dataset's files, per image profile (`Dataset.profile`): the one place.

- **ultrasound** (the default): files are decoded as they are stored (no EXIF orientation, no ICC
  conversion), the imaging field of view is found and cropped, the B-mode check flags colour
  Doppler and other non-B-mode frames, and the stored image is grey. The source frame keeps its
  colour, so the crop review shows the colour overlay a flag talks about.
- **generic**: any 2-D image is kept whole as a viewer shows it (`quiz.ingest.displayed`:
  upright by its EXIF orientation, in sRGB through its ICC profile, CMYK to RGB, transparency
  flattened on white), grey or colour; no field-of-view crop and no B-mode flags.

In both, an RGB frame whose channels are equal everywhere is stored grey (`canonical_channels`),
and 16-bit or floating-point frames are windowed the same way (`quiz.ingest.decoding`).
"""

from dataclasses import dataclass

import numpy as np

from quiz.imaging import RGB, as_grey, canonical_channels, channels_of
from quiz.models import Dataset, ImageKind, ImageProfile


@dataclass(frozen=True)
class Profile:
    name: str
    # Decode each frame as a viewer shows it: EXIF orientation, ICC to sRGB, alpha on white.
    as_displayed: bool
    # Crop to the imaging field of view and flag what is not plain B-mode.
    finds_field: bool
    # Store colour frames in colour (else their luminance).
    keeps_colour: bool

    def stored_pixels(self, frame: np.ndarray) -> np.ndarray:
        """A decoded frame (or the stored source frame) as this profile stores its image."""
        return canonical_channels(frame) if self.keeps_colour else as_grey(frame)

    def colour_note(self, frame: np.ndarray, conversions: list[str]) -> str:
        """The report's line on a file's colour; "" where there is nothing to say.

        `frame`: one of the file's decoded frames (all have one mode); `conversions`: what
        decoding did to show it as a viewer does (quiz.ingest.displayed)."""
        colour = channels_of(frame) == RGB
        if not self.keeps_colour and not colour:
            return ""  # as before profiles: nothing to say about a grey ultrasound file
        if not self.keeps_colour:
            return (
                "colour frame stored in grey (ultrasound profile); its source frame keeps the "
                "colour for the crop review"
            )
        mode = "kept in colour" if colour else "grey"
        if conversions:
            return f"converted: {'; '.join(conversions)}; {mode}"
        return mode


ULTRASOUND = Profile(
    ImageProfile.ULTRASOUND, as_displayed=False, finds_field=True, keeps_colour=False
)
GENERIC = Profile(ImageProfile.GENERIC, as_displayed=True, finds_field=False, keeps_colour=True)
PROFILES = {profile.name: profile for profile in (ULTRASOUND, GENERIC)}


def profile_of(dataset: Dataset) -> Profile:
    return PROFILES[dataset.profile]


def profile_change_refusal(dataset: Dataset) -> str:
    """Why a dataset that holds images cannot change its profile (the admin and the command).

    Its images were cropped and converted by the profile they were ingested with, and the
    uploaded files are not kept, so they cannot be ingested again under another profile here."""
    count = dataset.images.filter(kind=ImageKind.REAL).count()
    return (
        f"Dataset “{dataset.name}” already holds {count} image(s) ingested with the "
        f"{dataset.profile} profile, which cropped and converted them; the uploaded files are not "
        "kept, so they cannot be ingested again with another profile. Create a new dataset with "
        "the other profile and import the files into it."
    )
