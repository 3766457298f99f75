"""The FID commands' choices, as plain data (the command line reads them without loading torch)."""

__all__ = ["DEFAULT_PROTOCOL", "PROTOCOLS"]

PROTOCOLS = ("torch-fidelity", "pytorch-fid", "clean-fid")  # see fid/protocols.py
DEFAULT_PROTOCOL = "torch-fidelity"  # the original TensorFlow code's arithmetic, which published FIDs come from
