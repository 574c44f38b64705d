/**
 * The bench's charts (bench/lib/chart.ts): each bar's length follows its value within its group,
 * the ratios are written beside the group, and names are escaped, so that RESULTS.md's SVGs say
 * what its tables say.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chartSvg } from '../bench/lib/chart.js'
import { headline, headlineCharts, type Chart } from '../bench/lib/report.js'

const widths = (svg: string): number[] => [...svg.matchAll(/<rect x="\d+" y="[\d.]+" width="([\d.]+)"/g)].map((m) => Number(m[1]))

test('a chart draws each bar in proportion to the longest of its group, and marks the ratios', () => {
  const chart: Chart = {
    id: 'locks',
    title: 'Locked increments <per second>',
    unit: '/s',
    lowerIsBetter: false,
    groups: [
      {
        label: '1 process',
        bars: [
          { label: 'ours', value: 500, ours: true },
          { label: 'Redis mutex & PUBLISH', value: 1000 }
        ],
        ratios: ['0.50× vs mutex + PUBLISH']
      },
      {
        label: '8 processes',
        bars: [
          { label: 'ours', value: 30, ours: true },
          { label: 'Redis mutex', value: 10 }
        ],
        ratios: ['3.00× vs bare mutex']
      }
    ]
  }
  const svg = chartSvg(chart)
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/)
  assert.match(svg, /<\/svg>\n$/)
  const [ours1, peer1, ours8, peer8] = widths(svg)
  assert.equal(ours1! * 2, peer1)
  assert.equal(ours8, peer8! * 3)
  assert.match(svg, /0\.50× vs mutex \+ PUBLISH/)
  assert.match(svg, /3\.00× vs bare mutex/)
  assert.match(svg, />500\/s</)
  assert.match(svg, /Locked increments &lt;per second&gt;/)
  assert.match(svg, /Redis mutex &amp; PUBLISH/)
})

test('a figure that was not measured is said so, not drawn', () => {
  const svg = chartSvg({
    id: 'x',
    title: 't',
    unit: ' ms',
    lowerIsBetter: true,
    groups: [
      {
        label: 'p50',
        bars: [
          { label: 'ours', value: 2, ours: true },
          { label: 'peer', value: NaN }
        ],
        ratios: []
      }
    ]
  })
  assert.deepEqual(widths(svg), [360, 0])
  assert.match(svg, /not measured/)
  assert.match(svg, /Shorter is better/)
})

test('headlines against both peers become two charts: more is better, and less is', () => {
  const charts = headlineCharts([
    headline('updates/s', { ours: 9000, reference: 1500, hocuspocus: 1000 }, '/s'),
    headline('p99', { ours: 200, reference: 1300, hocuspocus: 2000 }, ' ms', true),
    { figure: 'no numbers', ours: '1 MB' }
  ])
  assert.deepEqual(
    charts.map((c) => [c.id, c.groups.map((g) => g.label)]),
    [
      ['summary-higher-is-better', ['updates/s']],
      ['summary-lower-is-better', ['p99']]
    ]
  )
  assert.deepEqual(charts[1]!.groups[0]!.ratios, ['6.50× vs y-websocket-server', '10.00× vs Hocuspocus'])
  assert.match(chartSvg(charts[1]!), />1,300 ms</)
})
