"""A simulated NTAG 424 DNA tag for the tests: each tap() gives the SUN URL
the real tag would write (NXP AN12196: PICC data = AES-128-CBC(meta key,
IV 0, C7 || UID || counter LSB first || padding); SDMMAC = the odd bytes of
AES-CMAC(CMAC(file key, 3CC3 0001 0080 || UID || counter), empty)).
Written with Python's `cryptography` (Debian's python3-cryptography),
independently of the server's C (server/lib/sun.c)."""

import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC


def _cmac(key, msg):
    c = CMAC(algorithms.AES(key))
    c.update(msg)
    return c.finalize()


class Tag:
    def __init__(self, uid=None, meta_key=None, file_key=None, counter=0):
        self.uid = uid or b"\x04" + os.urandom(6)
        self.meta_key = meta_key or os.urandom(16)
        self.file_key = file_key or os.urandom(16)
        self.counter = counter

    def register_body(self, checkpoint):
        return {"checkpoint": checkpoint, "uid": self.uid.hex(),
                "meta_key": self.meta_key.hex(), "file_key": self.file_key.hex()}

    def url(self, counter):
        ctr = counter.to_bytes(3, "little")
        plain = b"\xC7" + self.uid + ctr + os.urandom(5)
        enc = Cipher(algorithms.AES(self.meta_key), modes.CBC(bytes(16))).encryptor()
        picc = enc.update(plain) + enc.finalize()
        ks = _cmac(self.file_key, bytes.fromhex("3CC300010080") + self.uid + ctr)
        mac = _cmac(ks, b"")[1::2]
        return "https://tags.example/t?picc_data=%s&cmac=%s" % (
            picc.hex().upper(), mac.hex().upper())

    def tap(self):
        self.counter += 1
        return self.url(self.counter)
