/**
 * A comparison as a chart: horizontal bars, ours and each peer, grouped by figure, with the ratio
 * written beside each group, as a standalone SVG written by hand (a few rectangles and labels
 * need no plotting library). RESULTS.md links each chart the bench writes beside it.
 *
 * @example
 *   const chart: Chart = {
 *     id: 'locks', title: 'Locked increments', unit: '/s', lowerIsBetter: false,
 *     groups: [{ label: '1 process', bars: [{ label: 'ours', value: 1626, ours: true }, { label: 'Redis mutex', value: 2378 }],
 *       ratios: ['0.68× the mutex'] }]
 *   }
 *   writeFileSync('bench/charts/locks.svg', chartSvg(chart))
 */
import { num, type Chart } from './report.js'

const WIDTH = 820
const LABEL_W = 300
const BAR_W = 360
const BAR_H = 16
const GAP = 4
const GROUP_HEAD = 20
const RATIO_LINE = 18
const GROUP_GAP = 14
const TOP = 52
const OURS = '#1f6feb'
const PEERS = ['#8c959f', '#b6bdc5', '#d0d7de']

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const text = (x: number, y: number, s: string, attrs = ''): string =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs ? ` ${attrs}` : ''}>${escapeXml(s)}</text>`

/**
 * The chart as an SVG document. Each group has its own scale (its longest bar fills the width),
 * since a chart may hold figures of different sizes (p50 beside p99); compare bars within a group.
 */
export const chartSvg = (chart: Chart): string => {
  const height =
    TOP +
    chart.groups.reduce((h, g) => h + GROUP_HEAD + (g.ratios.length > 0 ? RATIO_LINE : 0) + g.bars.length * (BAR_H + GAP) + GROUP_GAP, 0) +
    8
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    text(10, 20, chart.title, 'font-size="15" font-weight="600"'),
    text(
      10,
      38,
      `${chart.lowerIsBetter ? 'Shorter is better' : 'Longer is better'}; each group on its own scale; ratio above 1× = ours better`,
      'fill="#57606a"'
    )
  ]
  let y = TOP
  for (const group of chart.groups) {
    // The ratios on a line of their own, under the figure's name: either may be long.
    out.push(text(10, y + 14, group.label, 'font-weight="600"'))
    y += GROUP_HEAD
    if (group.ratios.length > 0) {
      out.push(text(LABEL_W, y + 12, `ours: ${group.ratios.join('; ')}`, 'font-weight="600" fill="#0a3069"'))
      y += RATIO_LINE
    }
    const max = Math.max(...group.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0)), Number.MIN_VALUE)
    let peer = 0
    for (const bar of group.bars) {
      const w = Number.isFinite(bar.value) ? Math.max(1, (bar.value / max) * BAR_W) : 0
      const fill = bar.ours ? OURS : PEERS[peer++ % PEERS.length]!
      out.push(text(LABEL_W - 8, y + BAR_H - 4, bar.label, `text-anchor="end"${bar.ours ? ' font-weight="600"' : ''}`))
      out.push(`<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${fill}"/>`)
      out.push(
        text(LABEL_W + w + 6, y + BAR_H - 4, Number.isFinite(bar.value) ? `${num(bar.value)}${group.unit ?? chart.unit}` : 'not measured')
      )
      y += BAR_H + GAP
    }
    y += GROUP_GAP
  }
  out.push('</svg>', '')
  return out.join('\n')
}
