"""Checks that the ledger checks of ledger.py catch what they claim to, so a
passing mutual exclusion test means something. No processes involved."""
import unittest

import ledger

GOOD = """BEGIN 1 write 5 100
END 1 write 5 200
BEGIN 2 read 6 300
BEGIN 3 read 7 310
END 2 read 6 400
END 3 read 7 420
BEGIN 1 write 8 500
END 1 write 8 600 LOST
BEGIN 2 write 4294967297 550
END 2 write 4294967297 700
"""


class LedgerCheckTest(unittest.TestCase):

    def test_good_ledger_passes(self):
        intervals, problems = ledger.parse(GOOD)
        self.assertEqual(problems, [])
        self.assertEqual(len(intervals), 5)
        bad, shared = ledger.overlaps(intervals)
        self.assertEqual(bad, [], "a LOST section is not held against the others")
        self.assertEqual(shared, 1)
        self.assertEqual(ledger.token_violations(intervals), [])

    def test_reader_beside_writer_is_caught(self):
        intervals, _ = ledger.parse("BEGIN 1 write 5 100\nBEGIN 2 read 6 150\nEND 1 write 5 200\nEND 2 read 6 300\n")
        bad, _ = ledger.overlaps(intervals)
        self.assertEqual([(a.pid, b.pid) for a, b in bad], [(1, 2)])

    def test_two_writers_are_caught(self):
        intervals, _ = ledger.parse("BEGIN 1 write 5 100\nBEGIN 2 write 6 300\nEND 2 write 6 350\nEND 1 write 5 400\n")
        bad, _ = ledger.overlaps(intervals)
        self.assertEqual(len(bad), 1)

    def test_token_going_back_is_caught(self):
        intervals, _ = ledger.parse("BEGIN 1 read 9 100\nEND 1 read 9 200\nBEGIN 2 write 8 300\nEND 2 write 8 400\n")
        self.assertEqual(len(ledger.token_violations(intervals)), 1)

    def test_malformed_ledger_is_reported(self):
        _, problems = ledger.parse("BEGIN 1 write 5 100\nEND 2 write 6 200\ngarbage\n")
        self.assertEqual(len(problems), 3, problems)


if __name__ == "__main__":
    unittest.main()
