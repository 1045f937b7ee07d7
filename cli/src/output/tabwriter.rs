//! Elastic-tabstop column alignment with the semantics of Go's `text/tabwriter`
//! as docker's CLI uses it (`NewWriter(out, 10, 1, 3, ' ', 0)`).
//!
//! Cells are *terminated* by `\t`; the text after the last tab of a line is a
//! trailing cell that belongs to no column and is never padded. A column is a
//! run of consecutive lines that all have a tab-terminated cell at that index;
//! its width is the widest cell plus `padding`, at least `minwidth`.

/// A buffering column aligner; write text, then [`flush`](TabWriter::flush).
#[derive(Debug, Clone)]
pub struct TabWriter {
    minwidth: usize,
    tabwidth: usize,
    padding: usize,
    padchar: char,
    buf: String,
}

#[derive(Debug, Clone)]
struct Cell {
    text: String,
    width: usize,
}

impl TabWriter {
    /// Same parameters as Go's `tabwriter.NewWriter` (flags are always 0).
    pub fn new(minwidth: usize, tabwidth: usize, padding: usize, padchar: char) -> TabWriter {
        TabWriter {
            minwidth,
            tabwidth,
            padding,
            padchar,
            buf: String::new(),
        }
    }

    /// docker's table writer: minwidth 10, tabwidth 1, padding 3, spaces.
    pub fn docker() -> TabWriter {
        TabWriter::new(10, 1, 3, ' ')
    }

    /// Buffer text; nothing is formatted until [`flush`](TabWriter::flush).
    pub fn write(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// Format everything written so far and return it; the writer is emptied.
    /// Text after the last newline is emitted without a newline.
    pub fn flush(&mut self) -> String {
        let text = std::mem::take(&mut self.buf);
        // lines of cells; the last cell of each line is its trailing text
        let lines: Vec<Vec<Cell>> = text
            .split('\n')
            .map(|line| {
                line.split('\t')
                    .map(|c| Cell {
                        text: c.to_string(),
                        width: display_width(c),
                    })
                    .collect()
            })
            .collect();
        let mut out = String::with_capacity(text.len() * 2);
        let mut widths = Vec::new();
        self.format(&mut out, &lines, &mut widths, 0, lines.len());
        out
    }

    fn format(
        &self,
        out: &mut String,
        lines: &[Vec<Cell>],
        widths: &mut Vec<usize>,
        mut line0: usize,
        line1: usize,
    ) {
        let column = widths.len();
        let mut this = line0;
        while this < line1 {
            if column + 1 >= lines[this].len() {
                this += 1;
                continue;
            }
            // a column block starts here
            self.write_lines(out, lines, widths, line0, this);
            line0 = this;
            let mut width = self.minwidth;
            while this < line1 && column + 1 < lines[this].len() {
                width = width.max(lines[this][column].width + self.padding);
                this += 1;
            }
            widths.push(width);
            self.format(out, lines, widths, line0, this);
            widths.pop();
            line0 = this;
        }
        self.write_lines(out, lines, widths, line0, line1);
    }

    fn write_lines(
        &self,
        out: &mut String,
        lines: &[Vec<Cell>],
        widths: &[usize],
        line0: usize,
        line1: usize,
    ) {
        for (i, line) in lines.iter().enumerate().take(line1).skip(line0) {
            for (j, cell) in line.iter().enumerate() {
                out.push_str(&cell.text);
                if j < widths.len() {
                    self.pad(out, cell.width, widths[j]);
                }
            }
            if i + 1 < lines.len() {
                out.push('\n');
            }
        }
    }

    fn pad(&self, out: &mut String, textw: usize, cellw: usize) {
        if self.padchar == '\t' {
            if self.tabwidth == 0 {
                return;
            }
            let cellw = cellw.div_ceil(self.tabwidth) * self.tabwidth;
            let n = cellw.saturating_sub(textw);
            for _ in 0..n.div_ceil(self.tabwidth) {
                out.push('\t');
            }
            return;
        }
        for _ in 0..cellw.saturating_sub(textw) {
            out.push(self.padchar);
        }
    }
}

/// Terminal column width of a string: East Asian wide and full-width
/// characters count 2, combining marks and controls 0, others 1 (docker's
/// fork of tabwriter measures with go-runewidth).
pub fn display_width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

fn char_width(c: char) -> usize {
    let u = c as u32;
    if u < 0x20 || (0x7f..0xa0).contains(&u) {
        return 0;
    }
    if (0x300..0x370).contains(&u)
        || (0x1ab0..0x1b00).contains(&u)
        || (0x1dc0..0x1e00).contains(&u)
        || (0x20d0..0x2100).contains(&u)
        || (0xfe20..0xfe30).contains(&u)
        || u == 0x200b
        || u == 0x200c
        || u == 0x200d
        || u == 0xfe0f
    {
        return 0;
    }
    let wide = (0x1100..=0x115f).contains(&u)
        || (0x2e80..=0x303e).contains(&u)
        || (0x3041..=0x33ff).contains(&u)
        || (0x3400..=0x4dbf).contains(&u)
        || (0x4e00..=0x9fff).contains(&u)
        || (0xa000..=0xa4cf).contains(&u)
        || (0xac00..=0xd7a3).contains(&u)
        || (0xf900..=0xfaff).contains(&u)
        || (0xfe30..=0xfe4f).contains(&u)
        || (0xff00..=0xff60).contains(&u)
        || (0xffe0..=0xffe6).contains(&u)
        || (0x1f300..=0x1f64f).contains(&u)
        || (0x1f900..=0x1f9ff).contains(&u)
        || (0x20000..=0x3fffd).contains(&u);
    if wide {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(tw: TabWriter, s: &str) -> String {
        let mut tw = tw;
        tw.write(s);
        tw.flush()
    }

    #[test]
    fn docker_images_table() {
        let input = "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\n\
                     busybox\tlatest\tbeae173ccac6\t2 years ago\t1.24MB\n";
        let want = "REPOSITORY   TAG       IMAGE ID       CREATED       SIZE\n\
                    busybox      latest    beae173ccac6   2 years ago   1.24MB\n";
        assert_eq!(run(TabWriter::docker(), input), want);
    }

    #[test]
    fn trailing_cell_not_padded_and_no_final_newline() {
        assert_eq!(run(TabWriter::docker(), "a\tb"), "a         b");
        assert_eq!(run(TabWriter::docker(), "abc"), "abc");
        assert_eq!(run(TabWriter::docker(), ""), "");
        assert_eq!(run(TabWriter::docker(), "a\t\n"), "a         \n");
    }

    #[test]
    fn columns_are_blocks_of_consecutive_lines() {
        // Go's doc example: b and c are in distinct columns
        let input = "aaaa\tbbb\td\naa\tb\tdd\na\t\naa\tcccc\teee\n";
        let plain = run(TabWriter::new(0, 8, 1, ' '), input);
        assert_eq!(plain, "aaaa bbb d\naa   b   dd\na    \naa   cccc eee\n");
    }

    #[test]
    fn a_line_without_tabs_breaks_columns() {
        let input = "x\ty\nheading\nlonger-cell\tz\n";
        assert_eq!(
            run(TabWriter::new(0, 1, 2, ' '), input),
            "x  y\nheading\nlonger-cell  z\n"
        );
    }

    #[test]
    fn minwidth_and_unicode_width() {
        assert_eq!(run(TabWriter::new(5, 1, 1, '.'), "ab\tc\n"), "ab...c\n");
        assert_eq!(
            run(TabWriter::new(0, 1, 1, '.'), "日本\tx\nabcde\ty\n"),
            "日本..x\nabcde.y\n"
        );
    }

    #[test]
    fn tab_padding() {
        assert_eq!(
            run(TabWriter::new(0, 8, 1, '\t'), "a\tb\nabcdefgh\tc\n"),
            "a\t\tb\nabcdefgh\tc\n"
        );
    }
}
