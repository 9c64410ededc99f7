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
"""XML builders and parsers of the libvirt layer, read back."""

from xml.etree import ElementTree

import testtools

from incsnap_driver.virt import backup
from incsnap_driver.virt import checkpoints
from incsnap_driver.virt import domain
from incsnap_driver.virt import errors


def disks_of(xml):
    root = ElementTree.fromstring(xml)
    return {d.get('name'): d for d in root.findall('./disks/disk')}


class CheckpointXmlTest(testtools.TestCase):

    def test_one_bitmap_others_no(self):
        xml = checkpoints.checkpoint_xml('incsnap-s1', 'vdb',
                                         ('vda', 'vdb', 'hdc'))
        root = ElementTree.fromstring(xml)
        self.assertEqual('domaincheckpoint', root.tag)
        self.assertEqual('incsnap-s1', root.findtext('name'))
        self.assertIsNone(root.find('creationTime'))
        disks = disks_of(xml)
        self.assertEqual(['vda', 'vdb', 'hdc'],
                         [d.get('name')
                          for d in root.findall('./disks/disk')])
        self.assertEqual(('bitmap', 'incsnap-s1'),
                         (disks['vdb'].get('checkpoint'),
                          disks['vdb'].get('bitmap')))
        for other in ('vda', 'hdc'):
            self.assertEqual('no', disks[other].get('checkpoint'))
            self.assertIsNone(disks[other].get('bitmap'))

    def test_target_missing_from_list_is_added(self):
        disks = disks_of(checkpoints.checkpoint_xml('c', 'vdc', ('vda',)))
        self.assertEqual({'vda', 'vdc'}, set(disks))

    def test_name_is_escaped(self):
        xml = checkpoints.checkpoint_xml('a<b&c', 'vda', ('vda',))
        self.assertEqual('a<b&c', ElementTree.fromstring(xml).findtext(
            'name'))

    def test_redefine_xml_retargets_and_drops_parent_and_domain(self):
        saved = """<domaincheckpoint>
          <name>incsnap-2</name>
          <parent><name>incsnap-1</name></parent>
          <creationTime>1796053650</creationTime>
          <disks>
            <disk name='vda' checkpoint='bitmap' bitmap='incsnap-2'/>
            <disk name='vdb' checkpoint='no'/>
          </disks>
          <domain type='kvm'><name>x</name></domain>
        </domaincheckpoint>"""
        self.assertEqual(('incsnap-2', 1796053650, 'incsnap-2'),
                         checkpoints.parse_checkpoint(saved))
        xml = checkpoints.redefine_xml(saved, 'vdc', ('vda', 'vdc'))
        root = ElementTree.fromstring(xml)
        self.assertIsNone(root.find('parent'))
        self.assertIsNone(root.find('domain'))
        self.assertEqual('1796053650', root.findtext('creationTime'))
        disks = disks_of(xml)
        self.assertEqual('no', disks['vda'].get('checkpoint'))
        self.assertEqual('incsnap-2', disks['vdc'].get('bitmap'))

    def test_parse_refuses_two_bitmaps(self):
        xml = ("<domaincheckpoint><name>c</name><disks>"
               "<disk name='vda' checkpoint='bitmap' bitmap='c'/>"
               "<disk name='vdb' checkpoint='bitmap' bitmap='c'/>"
               "</disks></domaincheckpoint>")
        self.assertRaises(ValueError, checkpoints.parse_checkpoint, xml)


class BackupXmlTest(testtools.TestCase):

    def test_full(self):
        xml = backup.backup_xml('vda', '/mnt/x/v.incsnap/s.qcow2.part',
                                ('vda', 'vdb'))
        root = ElementTree.fromstring(xml)
        self.assertEqual(('domainbackup', 'push'), (root.tag,
                                                    root.get('mode')))
        self.assertIsNone(root.find('incremental'))
        disks = disks_of(xml)
        self.assertEqual(('yes', 'file'), (disks['vda'].get('backup'),
                                           disks['vda'].get('type')))
        self.assertEqual('/mnt/x/v.incsnap/s.qcow2.part',
                         disks['vda'].find('target').get('file'))
        self.assertEqual('qcow2', disks['vda'].find('driver').get('type'))
        self.assertEqual('no', disks['vdb'].get('backup'))
        self.assertIsNone(disks['vdb'].find('target'))

    def test_incremental(self):
        xml = backup.backup_xml('vdb', '/t', ('vda', 'vdb'),
                                incremental='incsnap-1')
        self.assertEqual('incsnap-1',
                         ElementTree.fromstring(xml).findtext('incremental'))
        self.assertEqual('yes', disks_of(xml)['vdb'].get('backup'))


class TargetPathTest(testtools.TestCase):

    def test_relative_to_volume_directory(self):
        self.assertEqual(
            '/var/lib/nova/mnt/abc/volume-1.incsnap/snapshot-2.qcow2.part',
            backup.target_path_for('/var/lib/nova/mnt/abc/volume-1',
                                   'volume-1.incsnap/snapshot-2.qcow2.part'))
        self.assertEqual('/m/a/b', backup.target_path_for('/m/v',
                                                          './a//b'))

    def test_escapes_refused(self):
        for bad in ('/etc/passwd', '../x', 'a/../../x', '', '.', '..'):
            self.assertRaises(ValueError, backup.target_path_for,
                              '/m/volume-1', bad)
        self.assertRaises(ValueError, backup.target_path_for, 'volume-1',
                          'x')


class ParseDisksTest(testtools.TestCase):

    XML = """<domain><devices>
      <disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
        <source file='/var/lib/nova/mnt/h1/volume-1'/>
        <target dev='vda' bus='virtio'/></disk>
      <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/></disk>
      <disk type='network' device='disk'><source protocol='rbd' name='p/x'/>
        <target dev='vdb' bus='virtio'/></disk>
    </devices></domain>"""

    def test_parse(self):
        self.assertEqual(
            [('vda', '/var/lib/nova/mnt/h1/volume-1', 'qcow2'),
             ('hdc', None, None), ('vdb', None, None)],
            domain.parse_disks(self.XML))

    def test_find_disk_by_basename(self):
        dom = FakeDomain(self.XML)
        disk = domain.find_disk(dom, 'volume-1')
        self.assertEqual(('vda', '/var/lib/nova/mnt/h1/volume-1',
                          ('vda', 'hdc', 'vdb')),
                         (disk.target, disk.source, disk.all_targets))

    def test_no_such_disk(self):
        exc = self.assertRaises(errors.DiskNotFound, domain.find_disk,
                                FakeDomain(self.XML), 'volume-2')
        self.assertIn('volume-2', str(exc))
        self.assertIn('vda=/var/lib/nova/mnt/h1/volume-1', str(exc))


class FakeDomain:

    def __init__(self, xml):
        self.xml = xml

    def XMLDesc(self, flags):
        return self.xml

    def UUIDString(self):
        return '00000000-0000-0000-0000-000000000001'
