//! The reader behind [`super::view`]: MessagePack items taken from a
//! body one at a time, and the event's map read into a [`View`] field by
//! field. Every method answers `None` for anything but the common shape
//! (see [`super`]), and then rmp-serde decides.

use super::{ValueView, View};
use crate::event::{DataType, Origin, ValueType};

/// A cursor over a body: the bytes, and where the next item starts.
pub(super) struct Reader<'a> {
    pub(super) b: &'a [u8],
    pub(super) i: usize,
}

/// Set `slot` unless it was set already (a repeated key: not our shape).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

impl<'a> Reader<'a> {
    #[inline(always)]
    fn byte(&mut self) -> Option<u8> {
        let b = *self.b.get(self.i)?;
        self.i += 1;
        Some(b)
    }

    #[inline(always)]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.i.checked_add(n)?;
        let s = self.b.get(self.i..end)?;
        self.i = end;
        Some(s)
    }

    #[inline(always)]
    fn be(&mut self, n: usize) -> Option<u64> {
        Some(
            self.take(n)?
                .iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
        )
    }

    #[inline(always)]
    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Some(usize::from(m & 0x0f)),
            0xde => usize::try_from(self.be(2)?).ok(),
            0xdf => usize::try_from(self.be(4)?).ok(),
            _ => None,
        }
    }

    #[inline(always)]
    fn array_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x90..=0x9f => Some(usize::from(m & 0x0f)),
            0xdc => usize::try_from(self.be(2)?).ok(),
            0xdd => usize::try_from(self.be(4)?).ok(),
            _ => None,
        }
    }

    /// A string's bytes, unchecked.
    #[inline(always)]
    fn raw_str(&mut self) -> Option<&'a [u8]> {
        let len = match self.byte()? {
            m @ 0xa0..=0xbf => usize::from(m & 0x1f),
            0xd9 => usize::try_from(self.be(1)?).ok()?,
            0xda => usize::try_from(self.be(2)?).ok()?,
            0xdb => usize::try_from(self.be(4)?).ok()?,
            _ => return None,
        };
        self.take(len)
    }

    /// A key: compared as bytes with the known names, so it needs no
    /// UTF-8 check (a name that is not one of them is not our shape).
    #[inline(always)]
    fn key(&mut self) -> Option<&'a [u8]> {
        self.raw_str()
    }

    #[inline(always)]
    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.raw_str()?).ok()
    }

    #[inline(always)]
    fn uint(&mut self) -> Option<u64> {
        match self.byte()? {
            m @ 0x00..=0x7f => Some(u64::from(m)),
            0xcc => self.be(1),
            0xcd => self.be(2),
            0xce => self.be(4),
            0xcf => self.be(8),
            _ => None,
        }
    }

    /// Read the event's map into `v`, which starts as [`View::empty`]:
    /// every field written in place, as it comes, so that nothing of the
    /// view is moved while it is read.
    pub(super) fn event(&mut self, v: &mut View<'a>) -> Option<()> {
        // One bit per key, the six that are not stamps the low six: a
        // repeated key is not our shape, and those six must all be there.
        let mut seen = 0u16;
        let mut first = |bit: u16| -> Option<()> {
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            Some(())
        };
        let mut kept_len = 0;
        for _ in 0..self.map_len()? {
            let start = self.i;
            let stamp = match self.key()? {
                b"type" => {
                    first(1)?;
                    v.event_type = self.str()?;
                    false
                }
                b"id" => {
                    first(2)?;
                    v.id = self.str()?;
                    false
                }
                b"source" => {
                    first(4)?;
                    v.source = self.str()?;
                    false
                }
                b"time" => {
                    first(8)?;
                    v.time = self.str()?;
                    false
                }
                b"specversion" => {
                    first(16)?;
                    v.specversion = self.str()?;
                    false
                }
                b"data" => {
                    first(32)?;
                    self.data(v)?;
                    false
                }
                b"epoch" => {
                    first(64)?;
                    v.epoch = self.uint()?;
                    true
                }
                b"seq" => {
                    first(128)?;
                    v.seq = self.uint()?;
                    true
                }
                b"origin" => {
                    first(256)?;
                    v.origin = match self.key()? {
                        b"synthetic" => Origin::Synthetic,
                        b"upstream" => Origin::Upstream,
                        _ => return None,
                    };
                    true
                }
                _ => return None,
            };
            if !stamp {
                // Each of the six keys at most once: at most six pairs.
                *v.kept.get_mut(kept_len)? = (start, self.i);
                kept_len += 1;
            }
        }
        (seen & 63 == 63).then_some(())
    }

    /// `data` into `v`: its version, its first values, the bytes of the
    /// others, and how many there are.
    fn data(&mut self, v: &mut View<'a>) -> Option<()> {
        let (mut version, mut values) = (false, false);
        for _ in 0..self.map_len()? {
            match self.key()? {
                b"version" if !version => {
                    version = true;
                    v.version = self.str()?;
                }
                b"values" if !values => {
                    values = true;
                    let n = self.array_len()?;
                    let mut rest = self.i;
                    for k in 0..n {
                        let value = self.value()?;
                        if let Some(slot) = v.head.get_mut(k) {
                            *slot = value;
                            rest = self.i;
                        }
                    }
                    v.rest = &self.b[rest..self.i];
                    v.count = n;
                }
                _ => return None,
            }
        }
        (version && values).then_some(())
    }

    pub(super) fn value(&mut self) -> Option<ValueView<'a>> {
        let (mut address, mut data_type, mut value_type, mut value) = (None, None, None, None);
        for _ in 0..self.map_len()? {
            match self.key()? {
                b"ResourceAddress" => once(&mut address, self.str()?)?,
                b"data_type" => {
                    let t = match self.key()? {
                        b"notification" => DataType::Notification,
                        b"metric" => DataType::Metric,
                        _ => return None,
                    };
                    once(&mut data_type, t)?
                }
                b"value_type" => {
                    let t = match self.key()? {
                        b"enumeration" => ValueType::Enumeration,
                        b"decimal64.3" => ValueType::Decimal64_3,
                        b"metric" => ValueType::Metric,
                        b"redfish-event" => ValueType::RedfishEvent,
                        _ => return None,
                    };
                    once(&mut value_type, t)?
                }
                b"value" => once(&mut value, self.str()?)?,
                _ => return None,
            }
        }
        Some(ValueView {
            resource_address: address?,
            data_type: data_type?,
            value_type: value_type?,
            value: value?,
        })
    }
}
