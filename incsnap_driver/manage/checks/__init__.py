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
"""What ``incsnap-manage`` concludes from what it read: plain functions.

The scanner (:mod:`incsnap_driver.manage.scan`) reads a share: directory
listings (``Entry``), the chain documents, and what ``qemu-img info`` and
``qemu-img check`` say about each image (``ImageFacts``), all of them the
plain values of :mod:`.model`. Every module here works on those values
only, so every rule can be tested with hand-built data:

``model``     the values, and how a problem is reported (``Problem``)
``share``     the share's top level: which name is what
``verify``    every problem of one volume, in a stable order, from
``document``  the chain document against itself,
``images``    the volume and snapshot files against the document,
``bitmaps``   the volume's bitmaps against the chain's head,
``orphans``   files of ours nothing references, names not ours
``gc``        what ``gc`` may remove, and what it refuses
``table``     the ``chains`` command's rows

Severities: ``error`` makes ``verify`` exit 1; ``warning`` is printed but
does not (a bitmap ``in-use`` while a VM may run the volume, a leftover
younger than the minimum age that may belong to a running operation);
``info`` is a remark (a name that is not ours, ignored).
"""
