import { properties } from './props/authority.ts';
import { testSlice } from './property.ts';

testSlice(properties);
