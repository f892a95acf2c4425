"""DICOM files built for tests: native (uncompressed) ultrasound datasets holding given pixels."""

import io

import numpy as np
import pydicom
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid


def native_dataset(
    pixels: np.ndarray,
    *,
    interpretation: str = "MONOCHROME2",
    bits_stored: int | None = None,
    frames: int = 1,
    modality: str | None = "US",
) -> pydicom.Dataset:
    """A native (uncompressed) DICOM dataset holding `pixels` (frames first when frames > 1)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.6.1"  # Ultrasound Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    if modality is not None:
        ds.Modality = modality
    colour = pixels.ndim == (4 if frames > 1 else 3)
    ds.Rows, ds.Columns = pixels.shape[-3:-1] if colour else pixels.shape[-2:]
    ds.SamplesPerPixel = 3 if colour else 1
    if colour:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = interpretation
    ds.BitsAllocated = pixels.dtype.itemsize * 8
    ds.BitsStored = bits_stored or ds.BitsAllocated
    ds.HighBit = ds.BitsStored - 1
    ds.PixelRepresentation = 0
    if frames > 1:
        ds.NumberOfFrames = frames
    ds.PixelData = pixels.tobytes()
    return ds


def dicom_bytes(ds: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def ultrasound_dicom(pixels: np.ndarray, *, frames: int = 1) -> bytes:
    """The bytes of a grey ultrasound DICOM file of `pixels` (frames first when frames > 1)."""
    return dicom_bytes(native_dataset(pixels, frames=frames))
