#    Licensed under the Apache License, Version 2.0 (the "License"); you may
#    not use this file except in compliance with the License. You may obtain
#    a copy of the License at
#
#         http://www.apache.org/licenses/LICENSE-2.0
#
#    Unless required by applicable law or agreed to in writing, software
#    distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#    WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#    License for the specific language governing permissions and limitations
#    under the License.
"""A healthy volume as hand-built facts, for the checks' tests."""

import testtools

from incsnap_driver import chain as chain_mod
from incsnap_driver.manage.checks import model
from incsnap_driver.manage.checks import verify

VOL = '0b0f4b8e-6a54-4b57-9a43-0a7c2d1e5f10'
S1 = '11111111-1111-4111-8111-111111111111'
S2 = '22222222-2222-4222-8222-222222222222'
S3 = '33333333-3333-4333-8333-333333333333'
OTHER = '44444444-4444-4444-8444-444444444444'
MiB = 1024 ** 2
# For the test modules: VOL, S1, S2, S3, OTHER = scans.IDS
IDS = (VOL, S1, S2, S3, OTHER)


def snap_file(sid):
    return 'snapshot-%s.qcow2' % sid


def good_scan():
    """A healthy volume: s1 full, s2 incremental (hidden), s3 the head."""
    chain = chain_mod.Chain(volume_id=VOL, head=S3, snapshots=[
        chain_mod.SnapshotRecord(id=S1, file=snap_file(S1),
                                 kind=chain_mod.FULL, depth=1,
                                 reason=chain_mod.REASON_FIRST,
                                 mode='offline'),
        chain_mod.SnapshotRecord(id=S2, file=snap_file(S2),
                                 kind=chain_mod.INCREMENTAL, depth=2,
                                 parent=S1, hidden=True, mode='offline'),
        chain_mod.SnapshotRecord(id=S3, file=snap_file(S3),
                                 kind=chain_mod.INCREMENTAL, depth=3,
                                 parent=S2, mode='online'),
    ])
    entries = {'chain.json': model.Entry('chain.json', allocated=4096)}
    for sid, size in ((S1, 8 * MiB), (S2, MiB), (S3, 2 * MiB)):
        entries[snap_file(sid)] = model.Entry(snap_file(sid),
                                              allocated=size)
    images = {snap_file(S1): model.ImageFacts(),
              snap_file(S2): model.ImageFacts(backing=snap_file(S1)),
              snap_file(S3): model.ImageFacts(backing=snap_file(S2))}
    volume_image = model.ImageFacts(bitmaps=[
        {'name': 'incsnap-%s' % S3, 'flags': ['auto'], 'granularity': 65536},
        {'name': 'someone-elses', 'flags': []}])
    return model.VolumeScan(
        volume_id=VOL, volume=model.Entry('volume-%s' % VOL),
        volume_image=volume_image,
        folder=model.Entry('volume-%s.incsnap' % VOL, type=model.DIR),
        chain=chain, entries=entries, images=images)


class CheckTestCase(testtools.TestCase):

    def problems(self, scan, **kwargs):
        return verify.check_volume(scan, **kwargs)

    def only(self, problems, code, severity=model.ERROR):
        """The problems of ``code``; asserts there is one and no other."""
        self.assertEqual([code], sorted({p.code for p in problems}),
                         [p.as_dict() for p in problems])
        self.assertTrue(all(p.severity == severity for p in problems),
                        [p.as_dict() for p in problems])
        return problems
