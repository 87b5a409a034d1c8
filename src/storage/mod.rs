//! Block devices and what is stacked on them: finding a device by name or
//! identity (`device`), device-mapper without libdevmapper (`dm`), LUKS
//! unlocking (`crypt`) and LVM activation (`lvm`), all before the resume
//! and root devices are looked for.

pub mod crypt;
pub mod device;
pub mod dm;
pub mod lvm;
