//! Opening hours (`--schedule-hours 10:00-18:00`, `--schedule-days mon-fri`, or `[schedule]`
//! `hours` / `days` in a show file): outside them the window goes black and the app idles (one
//! update a second, nothing drawn but black), and it wakes on time by itself. Local time.

use anyhow::{anyhow, bail, Result};

/// When the show is open: time ranges (minutes since midnight, `start..end`; a range that
/// ends before it starts runs past midnight) on some days of the week (0 = Sunday).
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    ranges: Vec<(u16, u16)>,
    days: [bool; 7],
}

const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

fn minutes(hhmm: &str) -> Result<u16> {
    let (h, m) = hhmm
        .trim()
        .split_once(':')
        .ok_or_else(|| anyhow!("{hhmm:?} is not HH:MM"))?;
    let (h, m): (u16, u16) = (
        h.parse().map_err(|_| anyhow!("{hhmm:?} is not HH:MM"))?,
        m.parse().map_err(|_| anyhow!("{hhmm:?} is not HH:MM"))?,
    );
    if h > 24 || m > 59 || (h == 24 && m > 0) {
        bail!("{hhmm:?} is not a time of day");
    }
    Ok(h * 60 + m)
}

fn day(name: &str) -> Result<usize> {
    let n = name.trim().to_lowercase();
    DAY_NAMES
        .iter()
        .position(|d| n.starts_with(d) && n.len() >= 3)
        .ok_or_else(|| anyhow!("{name:?} is not a day (mon, tue, … sun)"))
}

impl Schedule {
    /// `hours`: `HH:MM-HH:MM[,HH:MM-HH:MM…]`; `days`: `mon,wed,fri` or ranges `mon-fri`
    /// (`None`: every day).
    pub fn parse(hours: &str, days: Option<&str>) -> Result<Schedule> {
        let mut ranges = vec![];
        for r in hours.split(',') {
            let (a, b) = r
                .split_once('-')
                .ok_or_else(|| anyhow!("{r:?} is not HH:MM-HH:MM"))?;
            let (a, b) = (minutes(a)?, minutes(b)?);
            if a == b {
                bail!("{r:?} is empty");
            }
            ranges.push((a, b));
        }
        let mut set = [days.is_none(); 7];
        if let Some(days) = days {
            for part in days.split(',') {
                match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (day(a)?, day(b)?);
                        let mut d = a;
                        loop {
                            set[d] = true;
                            if d == b {
                                break;
                            }
                            d = (d + 1) % 7;
                        }
                    }
                    None => set[day(part)?] = true,
                }
            }
        }
        Ok(Schedule { ranges, days: set })
    }

    /// Whether the show is open on `weekday` (0 = Sunday) at `minute` past midnight. A range
    /// past midnight belongs to the day it starts on.
    pub fn is_open(&self, weekday: usize, minute: u16) -> bool {
        let yesterday = (weekday + 6) % 7;
        self.ranges.iter().any(|&(a, b)| {
            if a < b {
                self.days[weekday % 7] && (a..b).contains(&minute)
            } else {
                (self.days[weekday % 7] && minute >= a) || (self.days[yesterday] && minute < b)
            }
        })
    }

    /// [`Schedule::is_open`] now, in local time.
    pub fn is_open_now(&self) -> bool {
        let (weekday, minute) = local_now();
        self.is_open(weekday, minute)
    }
}

/// Local weekday (0 = Sunday) and minute of the day.
pub fn local_now() -> (usize, u16) {
    #[cfg(unix)]
    {
        // SAFETY: `time` with a null pointer only returns the time; `localtime_r` writes the
        // broken-down time into the `tm` we own and returns null on failure (checked).
        unsafe {
            let t = libc::time(std::ptr::null_mut());
            let mut tm: libc::tm = std::mem::zeroed();
            if !libc::localtime_r(&t, &mut tm).is_null() {
                return (
                    tm.tm_wday as usize % 7,
                    (tm.tm_hour * 60 + tm.tm_min) as u16,
                );
            }
        }
    }
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // 1970-01-01 was a Thursday; UTC where the local time is unknown
    (
        ((secs / 86_400 + 4) % 7) as usize,
        ((secs % 86_400) / 60) as u16,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_hours_by_day_and_past_midnight() {
        let s = Schedule::parse("10:00-18:00", Some("mon-fri")).unwrap();
        assert!(s.is_open(1, 10 * 60));
        assert!(s.is_open(5, 17 * 60 + 59));
        assert!(!s.is_open(5, 18 * 60), "the end is closed");
        assert!(!s.is_open(1, 9 * 60 + 59));
        assert!(!s.is_open(6, 12 * 60), "saturday");
        assert!(!s.is_open(0, 12 * 60), "sunday");
        let night = Schedule::parse("20:00-02:00", Some("fri,sat")).unwrap();
        assert!(night.is_open(5, 23 * 60));
        assert!(night.is_open(6, 60), "friday's evening runs into saturday");
        assert!(night.is_open(0, 60), "saturday's into sunday");
        assert!(!night.is_open(1, 60), "sunday's is not a show night");
        assert!(!night.is_open(5, 3 * 60));
        let two = Schedule::parse("09:00-12:00,13:00-17:30", None).unwrap();
        assert!(two.is_open(0, 9 * 60) && !two.is_open(3, 12 * 60 + 30) && two.is_open(3, 17 * 60));
        let wrap = Schedule::parse("10:00-11:00", Some("sat-mon")).unwrap();
        assert!(wrap.is_open(6, 630) && wrap.is_open(0, 630) && wrap.is_open(1, 630));
        assert!(!wrap.is_open(2, 630));
        for bad in [
            ("10-18", None),
            ("10:00-10:00", None),
            ("25:00-26:00", None),
            ("10:00-18:00", Some("someday")),
        ] {
            assert!(Schedule::parse(bad.0, bad.1).is_err(), "{bad:?}");
        }
        let (d, m) = local_now();
        assert!(d < 7 && m < 24 * 60);
    }
}
