import sdpTransform from 'sdp-transform';
import { describe, expect, it } from 'vitest';
import { buildAnswer, negotiate, type NegotiatedAudio } from '../../src/sdp/index.js';
import { sdpOffer } from '../helpers/sip-messages.js';

const local = { address: '127.0.0.1', port: 12000, sessionId: 42 };

function accepted(offer: string): NegotiatedAudio {
  const result = negotiate(offer);
  if (!result.ok) throw new Error(`expected an answer, got ${result.status}: ${result.reason}`);
  return result.audio;
}

describe('SDP offer/answer', () => {
  it("answers Exotel's offer with PCMA, telephone-event on the offered PT 96, ptime 20 and our address", () => {
    const audio = accepted(sdpOffer({ address: '182.76.143.61', port: 37456 }));
    expect(audio).toMatchObject({ codec: 'PCMA', payloadType: 8, dtmfPayloadType: 96, remote: { address: '182.76.143.61', port: 37456 } });
    const answer = sdpTransform.parse(buildAnswer(audio, local));
    expect(answer.connection?.ip).toBe('127.0.0.1');
    expect(answer.media).toHaveLength(1);
    const m = answer.media[0]!;
    expect(m.port).toBe(12000);
    expect(m.protocol).toBe('RTP/AVP');
    expect(String(m.payloads)).toBe('8 96');
    expect(m.rtp).toEqual([
      { payload: 8, codec: 'PCMA', rate: 8000 },
      { payload: 96, codec: 'telephone-event', rate: 8000 },
    ]);
    expect(m.fmtp).toEqual([{ payload: 96, config: '0-15' }]);
    expect(m.ptime).toBe(20);
    expect(m.direction).toBe('sendrecv');
  });

  it('prefers PCMA even when PCMU is listed first, and takes PCMU when it is the only G.711', () => {
    expect(accepted(sdpOffer({ formats: [{ pt: 0, rtpmap: 'PCMU/8000' }, { pt: 8, rtpmap: 'PCMA/8000' }] })).codec).toBe('PCMA');
    const pcmu = accepted(sdpOffer({ formats: [{ pt: 0 }, { pt: 101, rtpmap: 'telephone-event/8000', fmtp: '0-16' }] }));
    expect(pcmu).toMatchObject({ codec: 'PCMU', payloadType: 0, dtmfPayloadType: 101 });
    expect(buildAnswer(pcmu, local)).toContain('m=audio 12000 RTP/AVP 0 101');
  });

  it('keeps the codec in use while a re-offer has it, and numbers a new answer with the version it is given', () => {
    const both = sdpOffer({ formats: [{ pt: 0, rtpmap: 'PCMU/8000' }, { pt: 8, rtpmap: 'PCMA/8000' }] });
    const kept = negotiate(both, undefined, 'PCMU');
    expect(kept.ok && kept.audio.codec).toBe('PCMU');
    const gone = negotiate(sdpOffer({ formats: [{ pt: 8, rtpmap: 'PCMA/8000' }] }), undefined, 'PCMU');
    expect(gone.ok && gone.audio.codec).toBe('PCMA');
    expect(sdpTransform.parse(buildAnswer(accepted(both), { ...local, sessionVersion: 3 })).origin).toMatchObject({ sessionId: 42, sessionVersion: 3 });
  });

  it('has no telephone-event in the answer when the offer has none', () => {
    const audio = accepted(sdpOffer({ formats: [{ pt: 8, rtpmap: 'PCMA/8000' }] }));
    expect(audio.dtmfPayloadType).toBeUndefined();
    expect(buildAnswer(audio, local)).not.toContain('telephone-event');
  });

  it('rejects an offer with no common codec with 488 and warn-code 305 naming what was offered', () => {
    const result = negotiate(sdpOffer({ formats: [{ pt: 18, rtpmap: 'G729/8000' }, { pt: 9, rtpmap: 'G722/8000' }] }));
    expect(result).toMatchObject({ ok: false, status: 488, warnCode: 305 });
    expect(!result.ok && result.reason).toBe('no common codec: offered G729, G722; supported PCMA, PCMU');
  });

  it('rejects SRTP on the embedded media path, offers without audio, and SDP that is not SDP', () => {
    expect(negotiate(sdpOffer({ proto: 'RTP/SAVP' }))).toMatchObject({ ok: false, status: 488, warnCode: 302 });
    expect(negotiate('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n')).toMatchObject({ ok: false, status: 488, warnCode: 304 });
    expect(negotiate('hello')).toMatchObject({ ok: false, status: 400 });
    expect(negotiate('v=0\r\nm=audio 4000 RTP/AVP 8\r\n')).toMatchObject({ ok: false, status: 400, reason: 'offer has no connection address (c=)' });
    expect(negotiate('v=0\r\nc=IN IP4 example.com\r\nm=audio 4000 RTP/AVP 8\r\n')).toMatchObject({ ok: false, status: 488, warnCode: 301 });
  });

  it('mirrors the offer direction and refuses extra m-lines with port 0', () => {
    const offer = `${sdpOffer({ formats: [{ pt: 8, rtpmap: 'PCMA/8000' }] }).replace('a=sendrecv', 'a=sendonly')}m=video 5000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n`;
    const answer = sdpTransform.parse(buildAnswer(accepted(offer), local));
    expect(answer.media.map((m) => [m.type, m.port])).toEqual([
      ['audio', 12000],
      ['video', 0],
    ]);
    expect(answer.media[0]!.direction).toBe('recvonly');
  });
});
